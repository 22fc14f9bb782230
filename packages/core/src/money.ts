import { X402Error } from './errors.js'

/** How to treat a value with more decimals than the asset has. */
export type Rounding = 'reject' | 'up' | 'down' | 'half-up'

export type ParseMoneyOptions = {
  /** Decimals of the asset. @default 6 (USDC) */
  decimals?: number
  /**
   * What to do with digits past `decimals`. Static prices use `'reject'`; prices computed
   * by a function (floating point arithmetic) use `'half-up'`.
   * @default 'reject'
   */
  rounding?: Rounding
  /** Name of the setting, used in error messages. @default 'price' */
  name?: string
}

// `5`, `5.`, `5.25` and `.25` (as a number literal reads them); a lone `.` is not a number.
const pattern = /^(?=\.?\d)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i

/**
 * Converts a price such as `0.01`, `"$0.01"` or `"0.01 USDC"` to atomic units, with exact
 * decimal arithmetic (no binary floating point).
 *
 * @example
 * parseMoney(0.01) // 10000n
 * parseMoney('$1.5') // 1500000n
 */
export function parseMoney(value: number | string | bigint, options: ParseMoneyOptions = {}): bigint {
  const decimals = options.decimals ?? 6
  const rounding = options.rounding ?? 'reject'
  const name = options.name ?? 'price'
  const fail = (why: string): never => {
    throw new X402Error('invalid_money', {
      message: `${name} ${JSON.stringify(typeof value === 'bigint' ? String(value) : value)} is not a valid amount: ${why}. Give dollars as a number or string with at most ${decimals} decimals, e.g. 0.01, "$0.01" or "0.01 USDC".`,
      details: { value: String(value) },
    })
  }
  if (typeof value === 'bigint') fail('a bigint is ambiguous here; pass dollars, e.g. 0.01')
  if (typeof value === 'number' && !Number.isFinite(value)) fail('it is not a finite number')
  let text = String(value).trim()
  if (text.startsWith('-')) fail('it is negative')
  if (text.startsWith('$')) text = text.slice(1).trim()
  text = text.replace(/\s*(USDC|USD)$/i, '').trim()
  const match = pattern.exec(text)
  if (!match) fail('it is not a decimal number')
  const [, whole = '', fraction = '', exponent] = match as RegExpExecArray
  if (exponent !== undefined && (typeof value !== 'number' || rounding === 'reject')) {
    fail('exponent notation is not accepted; write the decimal out in full')
  }
  // Shift the decimal point by the exponent, exactly, on the digit string.
  let digits = whole + fraction
  let point = whole.length + Number(exponent ?? 0)
  if (point < 0) {
    digits = '0'.repeat(-point) + digits
    point = 0
  }
  if (point > digits.length) digits += '0'.repeat(point - digits.length)
  const intPart = digits.slice(0, point) || '0'
  const fracPart = digits.slice(point)
  const kept = fracPart.slice(0, decimals).padEnd(decimals, '0')
  const dropped = fracPart.slice(decimals)
  let atomic = BigInt(intPart + kept)
  if (/[1-9]/.test(dropped)) {
    if (rounding === 'reject') fail(`it has more than ${decimals} decimals`)
    if (rounding === 'up' || (rounding === 'half-up' && dropped[0] !== undefined && dropped[0] >= '5')) {
      atomic += 1n
    }
  }
  return atomic
}

/**
 * Formats atomic units as a plain decimal string of dollars.
 *
 * @example
 * formatMoney(10000n) // "0.01"
 */
export function formatMoney(atomic: bigint, decimals = 6): string {
  const negative = atomic < 0n
  const text = (negative ? -atomic : atomic).toString().padStart(decimals + 1, '0')
  const whole = text.slice(0, text.length - decimals)
  const fraction = text.slice(text.length - decimals).replace(/0+$/, '')
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`
}
