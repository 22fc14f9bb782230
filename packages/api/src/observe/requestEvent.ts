// Temporary: the lead's RequestEvent (BRIEF contract) until it lands in paywall/types.ts.
export type RequestEvent = {
  requestId: string
  at: number
  durationMs: number
  method: string
  route: string
  path: string
  status: number
  outcome: 'paid' | 'credit' | 'key' | 'free' | 'refused' | 'error'
  reason?: string
  amount: bigint
  price?: string
  network: string
  asset: string
  payer?: string
  account?: string
  keyId?: string
  plan?: string
  ip?: string
}
