import { X402Error } from './errors.js'

/**
 * What one option takes. `test` says whether a value is of the right kind; `expect` is what
 * to pass instead, for the message ("a number of ms, e.g. 60000"). An object value is checked
 * against `shape` (its own known keys), a table's values against `each`. `refuse` marks a
 * known option that is not honoured: giving it stops start-up with that message, never
 * "did you mean".
 */
export type OptionRule = {
  expect: string
  test(value: unknown): boolean
  shape?: OptionShape
  each?: OptionRule
  /** `either`'s rules: the first whose test passes checks the value further. */
  alternatives?: readonly OptionRule[]
  refuse?: string
}

/** The known keys of one options object, each with its rule. */
export type OptionShape = Readonly<Record<string, OptionRule>>

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** Rules for the usual kinds of option. */
export const rule = {
  string: (expect = 'a string'): OptionRule => ({ expect, test: (v) => typeof v === 'string' }),
  number: (expect = 'a number'): OptionRule => ({ expect, test: (v) => typeof v === 'number' && Number.isFinite(v) }),
  boolean: (expect = 'true or false'): OptionRule => ({ expect, test: (v) => typeof v === 'boolean' }),
  function: (expect = 'a function'): OptionRule => ({ expect, test: (v) => typeof v === 'function' }),
  /** Any value (objects given by the code, e.g. a ledger or a facilitator). */
  any: (expect = 'a value'): OptionRule => ({ expect, test: () => true }),
  oneOf: (...values: readonly unknown[]): OptionRule => ({
    expect: values.map((v) => JSON.stringify(v)).join(' or '),
    test: (v) => values.includes(v),
  }),
  object: (shape: OptionShape, expect = 'an object'): OptionRule => ({ expect, test: isPlainObject, shape }),
  /** A table of names to values, each checked by `each`. */
  record: (each: OptionRule, expect = 'an object'): OptionRule => ({ expect, test: isPlainObject, each }),
  array: (each: OptionRule, expect = 'an array'): OptionRule => ({ expect, test: Array.isArray, each }),
  /** The first rule whose test passes applies (its shape, its table). */
  either: (expect: string, ...rules: OptionRule[]): OptionRule => ({
    expect,
    test: (v) => rules.some((r) => r.test(v)),
    alternatives: rules,
  }),
  /** A known option that stops start-up with `message` whatever its value. */
  refused: (message: string): OptionRule => ({ expect: 'nothing', test: () => true, refuse: message }),
}

/**
 * Checks `value` against `shape`: every key must be known and of the right kind, nested
 * objects too. Stops at the first fault with an `invalid_config` error that names the option
 * (`details.option`), and for an unknown key the nearest known one when it is close.
 * Keys whose value is `undefined` count as not given.
 *
 * @example
 * checkOptions({ rateLimt: 1 }, { rateLimit: rule.number() }, 'x402Middleware()')
 * // throws: x402Middleware(): `rateLimt` is not an option: did you mean `rateLimit`?
 */
export function checkOptions(value: unknown, shape: OptionShape, where: string, path = ''): void {
  if (!isPlainObject(value)) {
    throw fault(where, path || 'options', `${where} takes an options object, not ${describe(value)}`)
  }
  for (const [key, given] of Object.entries(value)) {
    if (given === undefined) continue
    const name = path ? `${path}.${key}` : key
    const known = Object.hasOwn(shape, key) ? shape[key] : undefined
    if (!known) throw fault(where, name, unknownKey(key, name, Object.keys(shape), where))
    checkValue(given, known, where, name)
  }
}

function checkValue(given: unknown, known: OptionRule, where: string, name: string): void {
  if (known.refuse) throw fault(where, name, `${where}: ${known.refuse}`)
  if (!known.test(given)) throw fault(where, name, `${where}: \`${name}\` is ${describe(given)}: give ${known.expect}`)
  const chosen = known.alternatives?.find((alternative) => alternative.test(given))
  if (chosen) {
    checkValue(given, chosen, where, name)
    return
  }
  if (known.shape && isPlainObject(given)) checkOptions(given, known.shape, where, name)
  if (known.each && isPlainObject(given)) {
    for (const [key, item] of Object.entries(given))
      checkValue(item, known.each, where, `${name}[${JSON.stringify(key)}]`)
  }
  if (known.each && Array.isArray(given)) {
    for (const [i, item] of given.entries()) checkValue(item, known.each, where, `${name}[${i}]`)
  }
}

/** The message for an unknown key: the nearest known one when close, else the known ones. */
export function unknownKey(key: string, name: string, known: readonly string[], where: string): string {
  const near = nearestKey(key, known)
  const head = `${where}: \`${name}\` is not an option`
  return near ? `${head}: did you mean \`${near}\`?` : `${head}; the known ones here are ${known.join(', ')}`
}

function fault(where: string, option: string, message: string): X402Error {
  return new X402Error('invalid_config', { message, details: { option, where } })
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return 'an array'
  if (value === null) return 'null'
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'bigint') return `${value}n`
  return String(value)
}

/**
 * The known key nearest to `key` (case-insensitive optimal-string-alignment distance, the
 * Damerau–Levenshtein that counts a swap of two neighbours as one edit), when it is close
 * enough to be a slip: 1 edit for keys up to 4 characters, 2 up to 8, else 3.
 */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  const a = key.toLowerCase()
  const allowed = a.length <= 4 ? 1 : a.length <= 8 ? 2 : 3
  let best: string | undefined
  let bestDistance = allowed + 1
  for (const candidate of known) {
    const d = editDistance(a, candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  )
  const at = (i: number, j: number) => rows[i]?.[j] ?? Number.POSITIVE_INFINITY
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, at(i - 2, j - 2) + 1)
      ;(rows[i] as number[])[j] = d
    }
  }
  return at(a.length, b.length)
}
