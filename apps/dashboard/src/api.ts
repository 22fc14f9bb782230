// The admin API as the dashboard reads it (same origin; the sign-in cookie opens reads).

export type Range = 'hour' | 'day' | '30d'
export type OutcomeKey = 'paid' | 'credit' | 'key' | 'free' | '402' | '429' | '4xx' | '5xx'

export type Stats = {
  range: Range
  from: string
  to: string
  stepSeconds: number
  totals: {
    requests: number
    paid: number
    credit: number
    key: number
    free: number
    refused: number
    revenue: string
    payments: number
    charged: string
    creditCharged: string
  }
  byOutcome: Record<OutcomeKey, number>
  byRoute: {
    route: string
    requests: number
    revenue: string
    credit: string
    p50: number | null
    p95: number | null
    p99: number | null
    errors: number
  }[]
  series: ({ t: string; requests: number; revenue: string; refused: number } & Record<OutcomeKey, number>)[]
  topUsers: { user: string; kind: 'payer' | 'key' | 'account'; requests: number; revenue: string }[]
  countries: { country: string; requests: number; revenue: string }[]
  settlements: {
    settled: number
    pending: number
    failed: number
    recent: {
      id: string
      state: string
      amount: string
      payer: string
      network: string
      resource: string
      transaction: string | null
      explorerUrl: string | null
      createdAt: string
    }[]
  }
}

/** A request as the live stream sends it. */
export type LiveRequest = {
  requestId: string
  at: number
  durationMs: number
  method: string
  route: string
  status: number
  outcome: 'paid' | 'credit' | 'key' | 'free' | 'refused' | 'error'
  reason?: string
  amount: string
  payer?: string
  account?: string
  keyId?: string
}

/** Thrown for a 401/403: the page shows the sign-in form. */
export class SignedOut extends Error {}

const base = '/__402x/admin'

/** GET an admin endpoint; `undefined` for a 404 (an endpoint this paywall does not have). */
export async function admin<T>(path: string): Promise<T | undefined> {
  const response = await fetch(`${base}${path}`, {
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
  })
  if (response.status === 401 || response.status === 403) throw new SignedOut(await reason(response))
  if (response.status === 404) return undefined
  if (!response.ok) throw new Error(await reason(response))
  return (await response.json()) as T
}

/** POST to an admin endpoint from this page (the cookie opens it: the Origin is this API's). */
export async function adminPost<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { accept: 'application/json', 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  })
  if (response.status === 401 || response.status === 403) throw new SignedOut(await reason(response))
  if (!response.ok) throw new Error(await reason(response))
  return (await response.json()) as T
}

async function reason(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { message?: string; error?: string }
    return body.message ?? body.error ?? `${response.status}`
  } catch {
    return `${response.status} ${response.statusText}`
  }
}

/** Signs in with the admin token: the server sets the HttpOnly session cookie. */
export async function signIn(token: string): Promise<string | undefined> {
  const response = await fetch('/__402x/dashboard/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  })
  return response.ok ? undefined : await reason(response)
}

export async function signOut(): Promise<void> {
  await fetch('/__402x/dashboard/logout', { method: 'POST', credentials: 'same-origin' })
}

/** `"0.010000"` → `$0.01`; small amounts keep their digits. */
export function usd(amount: string | number): string {
  const n = Number(amount)
  if (n === 0) return '$0'
  // Micropayments keep their digits ($0.013, $0.0025); larger sums are shown in cents.
  return `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: Math.abs(n) < 100 ? 6 : 2 })}`
}

export const ms = (value: number | null) =>
  value === null
    ? '–'
    : value < 1
      ? `${value.toFixed(2)} ms`
      : value < 1000
        ? `${value.toFixed(value < 10 ? 1 : 0)} ms`
        : `${(value / 1000).toFixed(1)} s`

export const short = (value: string) => (value.length > 16 ? `${value.slice(0, 8)}…${value.slice(-6)}` : value)
