/** `Authorization: Bearer x402_live_…` or `x402_test_…`: an API key, not a credit token (`x402c_`). */
const bearerKey = /^Bearer\s+(x402_(?:live|test)_\S+)\s*$/i

/**
 * The API key a request carries: `Authorization: Bearer x402_…`, else the `header`
 * (`X-API-Key` by default) as sent, trimmed. Not checked here: the key stage looks it up.
 *
 * @example
 * presentedKey(request.headers) // 'x402_test_…' | undefined
 */
export function presentedKey(headers: { get(name: string): string | null }, header = 'x-api-key'): string | undefined {
  const bearer = bearerKey.exec(headers.get('authorization') ?? '')?.[1]
  if (bearer) return bearer
  const value = headers.get(header)?.trim()
  return value ? value : undefined
}
