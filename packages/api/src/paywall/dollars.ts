/** Dollars as the paywall shows them: "0.01" for `0.01`, `"$0.01"` or `"0.01 USDC"`. */
export const dollars = (price: string | number) =>
  String(price)
    .trim()
    .replace(/^\$\s*/, '')
    .replace(/\s*USDC?$/i, '')

/** A number as plain decimal text, without exponent notation (1e-7 → "0.0000001"). */
export function toPlain(value: number): string {
  const text = String(value)
  if (!/e/i.test(text)) return text
  return value.toFixed(20).replace(/0+$/, '').replace(/\.$/, '')
}
