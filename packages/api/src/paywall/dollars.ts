/** Dollars as the paywall shows them: "0.01" for `0.01`, `"$0.01"` or `"0.01 USDC"`. */
export const dollars = (price: string | number) =>
  String(price)
    .trim()
    .replace(/^\$\s*/, '')
    .replace(/\s*USDC?$/i, '')

/**
 * A number as plain decimal text, without exponent notation (1e-7 → "0.0000001", 1.5e21 →
 * "1500000000000000000000"). Exact: the digits are the number's shortest round-trip form
 * (`String(n)`), and only the decimal point moves; nothing is rounded (as `toFixed` would).
 *
 * @example
 * toPlain(0.0000006) // '0.0000006'
 */
export function toPlain(value: number): string {
  const text = String(value)
  const match = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text)
  if (!match) return text
  const [, sign, whole, fraction = '', exponent] = match as unknown as [string, string, string, string, string]
  const digits = whole + fraction
  // Where the decimal point goes in `digits`, once moved by the exponent.
  const point = whole.length + Number(exponent)
  const plain =
    point <= 0
      ? `0.${'0'.repeat(-point)}${digits}`
      : point >= digits.length
        ? digits + '0'.repeat(point - digits.length)
        : `${digits.slice(0, point)}.${digits.slice(point)}`
  return sign + plain
}
