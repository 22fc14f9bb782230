/**
 * How the paywall reads a request path, so that no spelling reaches a priced handler unpaid. Frameworks disagree about spellings:
 * Express, Fastify and Node `http` route on the raw request-line path (`%2F` kept, no
 * dot-segment resolution), Hono, fetch runtimes and Next.js on a WHATWG URL (`..` and
 * `%2e%2e` resolved, `%2F` kept, then decoded for the router). A path with nothing such
 * frameworks could read two ways has one reading; a path with an encoded `/`, `\`, `.`, `%`
 * or `;`, a literal `\` or `;`, a dot segment or an empty segment has many, and the caller
 * refuses it when any reading is priced (it cannot know which one the framework routes on).
 */

/**
 * What {@link readPath} found: the one path to match on (the common case, no allocation
 * when the target has no query), `ambiguous` (match every reading of {@link readingsOf}), or
 * `undefined` for a target that is not a path or not valid percent-encoding.
 */
export type PathReading = string | typeof ambiguous | undefined
export const ambiguous: unique symbol = Symbol('402x.ambiguousPath')

/**
 * The path of a request target: the query and fragment cut off, an absolute-form target
 * (`GET http://host/paid HTTP/1.1`) reduced to its path, as Express and Fastify route it.
 * `undefined` when what is left does not start with `/`.
 */
export function pathOf(target: string): string | undefined {
  let end = target.length
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i)
    if (c === 63 || c === 35) {
      end = i
      break
    }
  }
  const path = end === target.length ? target : target.slice(0, end)
  if (path.charCodeAt(0) === 47) return path
  const absolute = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(path)
  if (!absolute) return undefined
  return path.slice(absolute[0].length) || '/'
}

/**
 * Classifies a request target. A plain path (letters, digits, `-_~.!$&'()*+,=:@/`, safe
 * percent-escapes, a trailing `/`) has one reading, decoded and without its trailing `/`.
 */
export function readPath(target: string): PathReading {
  const path = pathOf(target)
  if (path === undefined) return undefined
  // Fast path: nothing to decode, resolve or collapse; the path is its own reading.
  let simple = true
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i)
    // % \ ;
    if (c === 37 || c === 92 || c === 59) {
      simple = false
      break
    }
    // "/" followed by "/", "." + ("/" | end), ".." + ("/" | end), or the end (trailing slash).
    if (c === 47 && (i + 1 === path.length || path.charCodeAt(i + 1) === 47 || isDotSegment(path, i + 1))) {
      simple = false
      break
    }
  }
  if (simple) return path
  // Not valid percent-encoding (`%%2F`, `%C0`): refused, as routers that decode leniently
  // (each valid escape, the rest left as it is) would read it as no decoder here does.
  let decoded = path
  if (path.includes('%')) {
    try {
      decoded = decodeURIComponent(path)
    } catch {
      return undefined
    }
  }
  if (ambiguousSpelling(path)) return ambiguous
  // Only safe escapes and maybe a trailing "/": one reading.
  return decoded.length > 1 && decoded.endsWith('/') ? decoded.slice(0, -1) : decoded
}

/** Whether the segment starting at `i` is `.` or `..` (raw). */
function isDotSegment(path: string, i: number): boolean {
  if (path.charCodeAt(i) !== 46) return false
  const j = path.charCodeAt(i + 1) === 46 ? i + 2 : i + 1
  return j === path.length || path.charCodeAt(j) === 47
}

/**
 * Escapes that decode to a character some framework reads as structure: `/` `\` `.` `;`,
 * and `%` (double encoding, `%252F`).
 */
const structuralEscape = /%(?:2f|5c|2e|3b|25)/i

function ambiguousSpelling(path: string): boolean {
  if (structuralEscape.test(path) || path.includes('\\') || path.includes(';')) return true
  // A literal dot segment or an empty segment (`//`, `/paid//`); one trailing "/" is not ambiguous.
  return path.includes('//') || /\/\.\.?(?:\/|$)/.test(path)
}

type Transform = (path: string) => string | undefined

const keep: Transform = (p) => p
const decodeOnce = (p: string) => {
  try {
    return decodeURIComponent(p)
  } catch {
    return undefined
  }
}
/** Decodes all but `%2F` and `%5C`, as `decodeURI`-style routers (Hono, Next) do. */
const decodeKeepingSlashes: Transform = (p) => decodeOnce(p.replace(/%(2f|5c)/gi, '%25$1'))
const twice =
  (f: Transform): Transform =>
  (p) => {
    const once = f(p)
    return once === undefined ? undefined : f(once)
  }
/** As `decodeURI`: the reserved characters (`;/?:@&=+$,#`) stay encoded. */
const decodeKeepingReserved: Transform = (p) => decodeOnce(p.replace(/%(2[346bcf]|3[abdf]|40)/gi, '%25$1'))
const decodings: Transform[] = [
  keep,
  decodeOnce,
  decodeKeepingSlashes,
  decodeKeepingReserved,
  twice(decodeOnce),
  twice(decodeKeepingSlashes),
]
/** `;` parameters: stripped from each segment, or the path cut at the first `;` (Fastify's delimiter). */
const semicolons: Transform[] = [keep, (p) => p.replace(/;[^/]*/g, ''), (p) => p.split(';')[0]]
const backslashes: Transform[] = [keep, (p) => p.replace(/\\/g, '/')]
const dots: Transform[] = [keep, resolveDots]
const slashes: Transform[] = [keep, (p) => p.replace(/\/{2,}/g, '/')]

/**
 * Every path an ambiguous spelling could be routed as: the combinations of decoding (none,
 * once, twice, with or without `/` and `\`), `;` handling (before and after decoding),
 * `\` as `/`, dot-segment resolution and `//` collapsing, each without a trailing `/`.
 * `visit` is called once per distinct reading until it returns `true`; the result says
 * whether it did.
 */
export function someReading(path: string, visit: (reading: string) => boolean): boolean {
  // Only the transforms that can change this path (a free, long, odd path costs little).
  const encoded = path.includes('%')
  const only = (applies: boolean, options: Transform[]) => (applies ? options : [keep])
  const semicolon = only(path.includes(';'), semicolons)
  const decoded = only(encoded, decodings)
  const semicolonAfter = only(/%(?:25)*3b/i.test(path), semicolons)
  const backslash = only(path.includes('\\') || /%(?:25)*5c/i.test(path), backslashes)
  const dot = only(path.includes('.') || /%(?:25)*2e/i.test(path), dots)
  const slash = only(encoded || path.includes('//') || path.includes('\\'), slashes)
  const seen = new Set<string>()
  for (const s1 of semicolon)
    for (const d of decoded)
      for (const s2 of semicolonAfter)
        for (const b of backslash)
          for (const r of dot)
            for (const c of slash) {
              let p = s1(path)
              if (p !== undefined) p = d(p)
              if (p !== undefined) p = s2(p)
              if (p !== undefined) p = c(r(b(p) as string) as string)
              if (p === undefined) continue
              if (p === '') p = '/'
              if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1)
              if (seen.has(p)) continue
              seen.add(p)
              if (visit(p)) return true
            }
  return false
}

/** `.` and `..` segments resolved (RFC 3986 5.2.4); `..` above the root stays at the root. */
function resolveDots(path: string): string {
  const out: string[] = []
  const segments = path.split('/')
  for (const [i, segment] of segments.entries()) {
    if (segment === '.' || segment === '..') {
      if (segment === '..' && out.length > 1) out.pop()
      // A dot segment at the end leaves a trailing "/" (dropped by the caller).
      if (i === segments.length - 1) out.push('')
      continue
    }
    out.push(segment)
  }
  return out.join('/') || '/'
}
