// The portal API (/__402x/portal/api/…), same origin, with the session cookie.
export const base = '/__402x/portal/api'

export type Refusal = { error: string; message: string }

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await response.text()
  const json = text ? JSON.parse(text) : {}
  if (!response.ok) {
    const refusal = json as Partial<Refusal>
    throw new ApiError(response.status, refusal.error ?? 'error', refusal.message ?? `HTTP ${response.status}`)
  }
  return json as T
}

export type Plan = { name: string; quota: { day?: number; month?: number }; billing: string; overage: unknown }
export type Info = {
  network: string
  asset?: { address: string; decimals: number; name?: string; version?: string }
  payTo?: string
  credits: { topUp: string; minTopUp: string; maxTopUp: string; suggested: string } | null
  signIn: { wallet: boolean; apiKey: boolean }
  selfServicePlans: Plan[]
}
export type Me = {
  kind: 'wallet' | 'key'
  address?: string
  keyId?: string
  expiresAt: string
  key?: { id: string; name: string; plan: string }
}
export type Usage = {
  from: string
  to: string
  keys: {
    id: string
    name: string
    plan: string
    state: string
    calls: number
    units: number
    amount: string
    routes: { route: string; calls: number; amount: string }[]
  }[]
  payments?: {
    count: number
    amount: string
    recent: { id: string; method: string; resource: string; amount: string; state: string; at: string }[]
  }
}
export type Credits = {
  balance: { available: string; reserved: string }
  entries: { id: number; kind: string; amount: string; direction: 'in' | 'out'; note?: string; at: string }[]
  offer: { topUp: string; minTopUp: string; maxTopUp: string; suggested: string }
}
export type KeyInfo = { id: string; name: string; plan: string; start: string; state: string; createdAt: string }

/** base64 of a string's UTF-8 bytes (the x402 headers' encoding). */
export function toBase64(text: string): string {
  let binary = ''
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte)
  return btoa(binary)
}

/** The JSON in a base64 header value, or `undefined`. */
export function fromBase64Json(value: string | null): unknown {
  if (!value) return undefined
  try {
    const bytes = Uint8Array.from(atob(value), (c) => c.charCodeAt(0))
    return JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    return undefined
  }
}
