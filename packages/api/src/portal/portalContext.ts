import { mintedOwner } from '../keys/mintedKeys.js'
import type { KeyInfo } from '../paywall/operatorKeys.js'
import { errorResponse } from '../paywall/responses.js'
import type { PaywallRuntime } from '../pipeline/runtime.js'
import type { ResolvedPortal } from './portalOptions.js'
import { portalPath } from './portalRoute.js'
import { openSession, type PortalSession, sessionSetCookie } from './portalSession.js'

/** What one portal API request's handler gets. */
export type PortalRequest = {
  rt: PaywallRuntime
  portal: ResolvedPortal
  url: URL
  /** The URL callers use (`publicUrl`, else the validated Host). */
  origin: string
  headers: { get(name: string): string | null }
  /** The caller's address as the adapter saw it (its trusted proxy followed): failed sign-ins are counted by it. */
  ip: string | undefined
  /** The path's parameters, in order (`/keys/:id` → `[id]`). */
  params: string[]
  /** The JSON body, read on demand. */
  body(): Promise<Record<string, unknown>>
}

export type PortalHandler = (request: PortalRequest) => Promise<Response>

/** The signed-in caller: who it is, the credit account and the key owner it acts as. */
export type Principal = {
  session: PortalSession
  /** The `owner` of the keys it creates and sees: the wallet's address, or its key's owner. */
  owner: string
  /** The credit account it sees and tops up. */
  account: string
  /** The key it signed in with (key sessions). */
  key?: KeyInfo
}

/** The answer of a portal endpoint: JSON, never cached; a bigint becomes a string. */
export function portalJson(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const text = JSON.stringify(body, (_key, value) => (typeof value === 'bigint' ? value.toString() : value))
  return new Response(text, {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  })
}

/** A refusal thrown by a handler: answered with its status and reason code. */
export class PortalRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly clearSession = false,
  ) {
    super(message)
  }
  response(secure: boolean): Response {
    const response = errorResponse(this.status, this.code, this.message)
    if (this.clearSession) response.headers.set('set-cookie', sessionSetCookie('', 0, secure, portalPath))
    return response
  }
}

/** The wallet's own credit account in the portal (one per address). */
export const walletAccount = (address: string) => `portal:${address.toLowerCase()}`

/**
 * The owner of keys created for a key session whose key has no owner: `key:<id>`, what
 * revoking that key revokes with it (`KeyStore.revoke`).
 */
const keyOwner = (key: KeyInfo) => key.owner ?? mintedOwner(key.id)

/**
 * The caller signed in on this request, or a 401: no session (`sign_in_required`), or one
 * whose key was revoked or expired since (`session_ended`, and the cookie cleared).
 */
export async function principalOf(request: PortalRequest): Promise<Principal> {
  const session = openSession(request.portal.secret, request.headers.get('cookie'))
  if (!session) {
    throw new PortalRefusal(
      401,
      'sign_in_required',
      'sign in first: POST /__402x/portal/api/session with { apiKey } or { siwx } (a session lasts an hour)',
    )
  }
  if (session.kind === 'wallet') {
    return { session, owner: session.address, account: walletAccount(session.address) }
  }
  const key = await request.rt.adminKeys?.get(session.keyId)
  if (key?.state !== 'active') {
    throw new PortalRefusal(
      401,
      'session_ended',
      `the key this session signed in with is ${key ? key.state : 'gone'}: sign in again with an active key or a wallet`,
      true,
    )
  }
  return { session, owner: keyOwner(key), account: key.account, key }
}

/**
 * Refuses a key session whose key was revoked while this request ran (`session_ended`), after
 * it made something with the key: the revoke took what existed then, the caller is told to
 * sign in again, and `undo` takes back what was made since.
 */
export async function stillSignedIn(request: PortalRequest, principal: Principal, undo: () => Promise<unknown>) {
  if (!principal.key) return
  const key = await request.rt.adminKeys?.get(principal.key.id)
  if (key?.state === 'active') return
  await undo()
  throw new PortalRefusal(
    401,
    'session_ended',
    `the key this session signed in with is ${key ? key.state : 'gone'}: sign in again with an active key or a wallet`,
    true,
  )
}

/** The keys a principal owns (its own key included), newest first. */
export async function ownKeys(request: PortalRequest, principal: Principal): Promise<KeyInfo[]> {
  const keys = request.rt.adminKeys
  if (!keys) return []
  const all = await keys.list({ includeRevoked: true })
  return all
    .filter((k) => k.owner === principal.owner || k.id === principal.key?.id)
    .sort((a, b) => b.createdAt - a.createdAt)
}
