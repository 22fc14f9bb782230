/**
 * A JSON request body with `"stream": true`, changed to ask for the stream's usage
 * (`stream_options.include_usage: true`): OpenAI-compatible servers send the final `usage`
 * chunk only when asked, and without it a per-token stream would be billed by an estimate
 * of its text. The edit is textual: every other byte of the body is kept as sent (a seed
 * above 2^53 is not rounded by a round trip through `JSON.parse`). `undefined` when there
 * is nothing to change: not JSON, not an object, not a stream, or usage already asked for.
 *
 * @example
 * includeUsage(Buffer.from('{"stream":true}')) // '{"stream_options":{"include_usage":true},"stream":true}'
 */
export function includeUsage(body: Buffer): Buffer | undefined {
  const text = body.toString('utf8')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined
  const request = parsed as { stream?: unknown; stream_options?: unknown }
  if (request.stream !== true) return undefined
  const options = request.stream_options
  const isObject = options !== null && typeof options === 'object' && !Array.isArray(options)
  if (isObject && (options as { include_usage?: unknown }).include_usage === true) return undefined
  const wanted = JSON.stringify({ ...(isObject ? options : {}), include_usage: true })
  const members = topLevelMembers(text)
  const present = members.filter((m) => m.key === 'stream_options')
  let out: string
  if (present.length === 0) {
    const open = text.indexOf('{') + 1
    out = `${text.slice(0, open)}"stream_options":${wanted},${text.slice(open)}`
  } else {
    // Each copy of the key (JSON.parse read the last), so no server reads another one.
    out = ''
    let from = 0
    for (const m of present) {
      out += text.slice(from, m.start) + wanted
      from = m.end
    }
    out += text.slice(from)
  }
  return Buffer.from(out, 'utf8')
}

type Member = { key: string; start: number; end: number }

/** The top-level members of a JSON object's text (valid JSON): each key and its value's span. */
function topLevelMembers(text: string): Member[] {
  const members: Member[] = []
  let i = text.indexOf('{') + 1
  const space = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r'
  const skipSpace = () => {
    while (space(text[i])) i++
  }
  const skipString = () => {
    i++
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1
    i++
  }
  const skipValue = () => {
    const c = text[i]
    if (c === '"') return skipString()
    if (c !== '{' && c !== '[') {
      while (i < text.length && text[i] !== ',' && text[i] !== '}' && !space(text[i])) i++
      return
    }
    let depth = 0
    while (i < text.length) {
      const d = text[i]
      if (d === '"') {
        skipString()
        continue
      }
      i++
      if (d === '{' || d === '[') depth++
      else if ((d === '}' || d === ']') && --depth === 0) return
    }
  }
  for (;;) {
    skipSpace()
    if (i >= text.length || text[i] === '}') return members
    const keyStart = i
    skipString()
    const key = JSON.parse(text.slice(keyStart, i)) as string
    skipSpace()
    i++ // the colon
    skipSpace()
    const start = i
    skipValue()
    members.push({ key, start, end: i })
    skipSpace()
    if (text[i] === ',') i++
  }
}
