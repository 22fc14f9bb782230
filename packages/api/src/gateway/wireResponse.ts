/** A response as the decision service sends it: its status, headers and body as text. */
export type WireResponse = { status: number; headers: Record<string, string>; body: string }

/** A Web `Response` (a 402, a 429 …) as JSON for the app server to send as it is. */
export async function wireResponse(response: Response): Promise<WireResponse> {
  return { status: response.status, headers: headerRecord(response.headers), body: await response.text() }
}

export function headerRecord(headers: Headers | Iterable<[string, string]>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of headers) out[name.toLowerCase()] = value
  return out
}
