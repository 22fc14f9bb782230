import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { isIP } from 'node:net'
import { dirname, join } from 'node:path'

/** A country code (`US`), `local` for loopback and private addresses, `unknown` when not found. */
export type Country = string

/** Range starts, sorted: IPv4 as numbers; IPv6 as their upper and lower 64 bits. */
type Table = { starts: Float64Array | BigUint64Array; low?: BigUint64Array; codes: string[] }

/** The GeoIP database's folder: the `@ip-location-db/dbip-country` package, shipped with 402x. */
function databaseDir(): string {
  const require = createRequire(import.meta.url)
  return dirname(require.resolve('@ip-location-db/dbip-country/package.json'))
}

/**
 * Country lookup from DB-IP's country database (CC BY 4.0), read from its npm package on
 * first use (no download), IPv4 and IPv6. `lookup` answers at once; while a
 * table is still loading it answers `undefined` and `ready()` says when to ask again.
 *
 * @example
 * const geo = createGeoCountry()
 * await geo.ready('8.8.8.8')
 * geo.lookup('8.8.8.8') // 'US'
 */
export function createGeoCountry(dir: () => string = databaseDir) {
  const tables: { v4?: Table; v6?: Table } = {}
  const loading: { v4?: Promise<void>; v6?: Promise<void> } = {}
  const load = (family: 'v4' | 'v6') => {
    loading[family] ??= readFile(join(dir(), `dbip-country-ip${family}-num.csv`), 'utf8').then(
      async (text) => {
        tables[family] = await parseTable(text, family)
      },
      () => {
        // A missing database leaves countries unknown, never a failed request.
        tables[family] = { starts: family === 'v4' ? new Float64Array(0) : new BigUint64Array(0), codes: [] }
      },
    )
    return loading[family]
  }
  const countryOf = (ip: string): Country | undefined => {
    const plain = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip
    const family = isIP(plain)
    if (family === 0) return 'unknown'
    if (isLocalAddress(plain)) return 'local'
    const key = family === 4 ? 'v4' : 'v6'
    const table = tables[key]
    if (!table) {
      void load(key)
      return undefined
    }
    return (family === 4 ? find(table, ipv4Number(plain), 0n) : find(table, ...ipv6Halves(plain))) ?? 'unknown'
  }
  /** The answers given, by address: a caller's requests ask for the same one again and again. */
  const known = new Map<string, Country>()
  return {
    /** The country of `ip`; `undefined` while its table loads (it starts loading). */
    lookup(ip: string | undefined): Country | undefined {
      if (!ip) return 'unknown'
      const seen = known.get(ip)
      if (seen !== undefined) return seen
      const country = countryOf(ip)
      if (country !== undefined) {
        if (known.size >= 10_000) known.clear()
        known.set(ip, country)
      }
      return country
    },
    /** Resolves once the table for `ip`'s family is loaded. */
    ready(ip: string): Promise<void> {
      return load(isIP(ip.startsWith('::ffff:') ? ip.slice(7) : ip) === 4 ? 'v4' : 'v6')
    },
  }
}

export type GeoCountry = ReturnType<typeof createGeoCountry>

/** Parses a table in slices, giving the event loop back between them: requests never wait on it. */
async function parseTable(text: string, family: 'v4' | 'v6'): Promise<Table> {
  const lines = text.split('\n')
  const starts: number[] | bigint[] = []
  const low: bigint[] = []
  const codes: string[] = []
  const mask = (1n << 64n) - 1n
  for (const [n, line] of lines.entries()) {
    if (n % 10_000 === 9_999) await new Promise((resolve) => setImmediate(resolve))
    const first = line.indexOf(',')
    const last = line.lastIndexOf(',')
    if (first <= 0 || last <= first) continue
    const start = line.slice(0, first)
    if (family === 'v4') (starts as number[]).push(Number(start))
    else {
      const value = BigInt(start)
      ;(starts as bigint[]).push(value >> 64n)
      low.push(value & mask)
    }
    codes.push(line.slice(last + 1).trim())
  }
  return {
    starts: family === 'v4' ? Float64Array.from(starts as number[]) : BigUint64Array.from(starts as bigint[]),
    ...(family === 'v6' ? { low: BigUint64Array.from(low) } : {}),
    codes,
  }
}

/** The range whose start is the greatest at or below `value` (ranges are sorted, gaps mean unknown). */
function find(table: Table, value: number | bigint, valueLow: bigint): string | undefined {
  const { starts, low, codes } = table
  const atOrBelow = (i: number) => {
    const start = starts[i] as number | bigint
    if (start !== value) return start < value
    return !low || (low[i] as bigint) <= valueLow
  }
  let lo = 0
  let hi = starts.length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (atOrBelow(mid)) {
      found = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  return found < 0 ? undefined : codes[found]
}

function ipv4Number(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0)
}

/** An IPv6 address's upper and lower 64 bits. */
function ipv6Halves(ip: string): [bigint, bigint] {
  const [head = '', tail = ''] = ip.split('::')
  const left = head ? head.split(':') : []
  const right = ip.includes('::') ? (tail ? tail.split(':') : []) : []
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left
  let high = 0n
  let low = 0n
  for (let i = 0; i < 4; i++) high = (high << 16n) | BigInt(Number.parseInt(groups[i] || '0', 16))
  for (let i = 4; i < 8; i++) low = (low << 16n) | BigInt(Number.parseInt(groups[i] || '0', 16))
  return [high, low]
}

/**
 * Loopback, private, link-local, CGNAT, unspecified and unique-local addresses: a
 * caller on this machine or its network.
 *
 * @example
 * isLocalAddress('10.1.2.3') // true
 */
export function isLocalAddress(ip: string): boolean {
  if (isIP(ip) === 4) {
    const [a = 0, b = 0] = ip.split('.').map(Number)
    return (
      a === 127 ||
      a === 10 ||
      a === 0 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b <= 127)
    )
  }
  const lower = ip.toLowerCase()
  return lower === '::1' || lower === '::' || /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower)
}
