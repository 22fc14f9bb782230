import { formatMoney } from '@402x/core'

/** Printable ASCII without `"` and `\`: a string JSON writes as it is, between quotes. */
const plain = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/** A string as JSON writes it; the common case (ids, routes, addresses) without a call into JSON. */
const quote = (text: string) => (text.length <= 256 && plain.test(text) ? `"${text}"` : JSON.stringify(text))

/**
 * One event of the live stream as JSON, amounts (bigints) as dollar strings: exactly what
 * `JSON.stringify(value, replacer)` writes with a replacer that formats bigints, for a third
 * of its cost on the flat objects the paywall emits (the stream writes one per request).
 * Nested values, and anything with a `toJSON`, are left to `JSON.stringify` itself.
 *
 * @example
 * liveEventJson({ status: 200, amount: 10000n, route: 'GET /api/data' }, 6)
 * // '{"status":200,"amount":"0.01","route":"GET /api/data"}'
 */
export function liveEventJson(value: unknown, decimals: number): string {
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  )
    return JSON.stringify(value, replacerOf(decimals))
  const record = value as Record<string, unknown>
  let out = '{'
  for (const key of Object.keys(record)) {
    const field = record[key]
    let text: string
    switch (typeof field) {
      case 'string':
        text = quote(field)
        break
      case 'number':
        text = Number.isFinite(field) ? String(field) : 'null'
        break
      case 'bigint':
        text = `"${formatMoney(field, decimals)}"`
        break
      case 'boolean':
        text = field ? 'true' : 'false'
        break
      case 'undefined':
      case 'function':
      case 'symbol':
        continue
      default:
        text = JSON.stringify(field, replacerOf(decimals))
    }
    out += `${out.length === 1 ? '' : ','}${quote(key)}:${text}`
  }
  return `${out}}`
}

const replacers = new Map<number, (key: string, value: unknown) => unknown>()

/** The replacer that writes bigints as dollar strings, one per number of decimals. */
function replacerOf(decimals: number) {
  let replacer = replacers.get(decimals)
  if (!replacer) {
    replacer = (_key, value) => (typeof value === 'bigint' ? formatMoney(value, decimals) : value)
    replacers.set(decimals, replacer)
  }
  return replacer
}
