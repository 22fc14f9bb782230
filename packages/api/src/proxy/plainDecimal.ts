/**
 * A YAML (or JSON) number as the decimal text it was written as, without exponent notation:
 * `6e-7` (how JavaScript writes `0.0000006`) is `"0.0000006"`, `1.5e21` is `"1500000000000000000000"`.
 * Exact: the digits are the number's shortest round-trip form (`String(n)`), only the
 * decimal point moves; no rounding through `toFixed`.
 *
 * @example
 * plainDecimal(0.0000006) // '0.0000006'
 */
export function plainDecimal(value: number): string {
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
