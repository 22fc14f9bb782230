/** Dollars as the paywall shows them: "0.01" for `0.01`, `"$0.01"` or `"0.01 USDC"`. */
export const dollars = (price: string | number) =>
  String(price)
    .trim()
    .replace(/^\$\s*/, '')
    .replace(/\s*USDC?$/i, '')

/** A number as plain decimal text, without exponent notation (1e-7 → "0.0000001", 1e21 → "1000…"). */
export function toPlain(value: number): string {
  const text = String(value)
  if (!/e/i.test(text)) return text
  // From 1e21 `toFixed` writes exponents too ("1e+300", which the zeros' trim made "1e+3");
  // such a number is whole, and BigInt writes all its digits.
  if (Number.isFinite(value) && Math.abs(value) >= 1e21) return BigInt(value).toString()
  return value.toFixed(20).replace(/0+$/, '').replace(/\.$/, '')
}
