import { createSiwxExtension, verifySiwx } from '@402x/core'
import { z } from 'zod'
import { signInAttempt } from '../admin/signInLimit.js'
import { type PortalHandler, PortalRefusal, type PortalRequest, portalJson, principalOf } from './portalContext.js'
import { portalPath } from './portalRoute.js'
import { sealSession, sessionSetCookie } from './portalSession.js'

/** What the wallet signs: the portal's URL (a sign-in here is good for nothing else). */
const signInUrl = (request: PortalRequest) => `${request.origin}${portalPath}`
const networksOf = (request: PortalRequest) => [...new Set(request.rt.config.accepts.map((a) => a.network))]
const isSecure = (request: PortalRequest) => request.origin.startsWith('https:')

/** `GET /api/siwx`: a fresh SIGN-IN-WITH-X challenge (EIP-4361), valid five minutes. */
export const siwxChallenge: PortalHandler = async (request) =>
  portalJson(
    200,
    createSiwxExtension({
      url: signInUrl(request),
      networks: networksOf(request),
      statement: 'Sign in to the developer portal. This costs nothing and moves no funds.',
    }),
  )

const SignIn = z.union([
  z.object({ siwx: z.string().min(1).max(8192) }).strict(),
  z.object({ apiKey: z.string().min(1).max(200) }).strict(),
])

/**
 * `POST /api/session` `{ siwx }` (the base64 `SIGN-IN-WITH-X` payload, signed over the
 * portal's URL) or `{ apiKey }`: sets the session cookie (HttpOnly, SameSite=Strict).
 */
export const signIn: PortalHandler = async (request) => {
  const parsed = SignIn.safeParse(await request.body())
  if (!parsed.success) {
    throw new PortalRefusal(
      400,
      'invalid_request',
      'send { "apiKey": "x402_…" } or { "siwx": "<base64 SIGN-IN-WITH-X payload>" } (get the message to sign from GET /__402x/portal/api/siwx)',
    )
  }
  // Counted before anything is checked: past the limit (10 failures from one address in 15
  // minutes, signInLimit.ts), nothing is looked up or verified, so nothing can be guessed.
  const attempt = await signInAttempt(request.rt.config.stores.rateLimits, request.ip, 'portal')
  if (attempt instanceof Response) return attempt
  let session: Parameters<typeof sealSession>[1]
  try {
    session = await sessionFor(request, parsed.data)
  } catch (error) {
    // A wrong key or signature (401) counts; anything else (no keys here, a store fault) is given back.
    await attempt.done(!(error instanceof PortalRefusal && error.status === 401))
    throw error
  }
  await attempt.done(true)
  const { portal } = request
  const cookie = sessionSetCookie(
    sealSession(portal.secret, session),
    portal.sessionTtlMs,
    isSecure(request),
    portalPath,
  )
  return portalJson(200, describe(session), { 'set-cookie': cookie })
}

/** The session a valid sign-in opens; a {@link PortalRefusal} (401) for a wrong key or signature. */
async function sessionFor(
  request: PortalRequest,
  data: z.infer<typeof SignIn>,
): Promise<Parameters<typeof sealSession>[1]> {
  const exp = Date.now() + request.portal.sessionTtlMs
  if ('siwx' in data) {
    const check = verifySiwx(data.siwx, {
      url: signInUrl(request),
      networks: networksOf(request),
      samePath: true,
    })
    if (!check.ok)
      throw new PortalRefusal(401, check.reason, `${check.message} (sign GET /__402x/portal/api/siwx's message)`)
    // One sign-in per signed message, in every process on the shared store.
    const first = await request.rt.config.stores.spentProofs.spend(
      `portal:${check.address}:${check.nonce}`,
      check.expiresAt,
    )
    if (!first) throw new PortalRefusal(401, 'siwx_replayed', 'this signed message was used already: sign a fresh one')
    return { kind: 'wallet', address: check.address, exp }
  }
  const keys = request.rt.config.keys
  if (!keys) {
    throw new PortalRefusal(404, 'keys_not_configured', 'this API has no API keys: sign in with a wallet instead')
  }
  const found = await keys.lookup.find(data.apiKey.trim())
  if (!found.ok) throw new PortalRefusal(401, found.reason, found.message)
  return { kind: 'key', keyId: found.record.id, exp }
}

/** `DELETE /api/session`: signs out (the cookie is cleared). */
export const signOut: PortalHandler = async (request) =>
  portalJson(200, { signedOut: true }, { 'set-cookie': sessionSetCookie('', 0, isSecure(request), portalPath) })

/** `GET /api/me`: who is signed in. */
export const me: PortalHandler = async (request) => {
  const principal = await principalOf(request)
  return portalJson(200, {
    ...describe(principal.session),
    ...(principal.key ? { key: { id: principal.key.id, name: principal.key.name, plan: principal.key.plan } } : {}),
  })
}

function describe(session: Parameters<typeof sealSession>[1]) {
  const expiresAt = new Date(session.exp).toISOString()
  return session.kind === 'wallet'
    ? { kind: 'wallet', address: session.address, expiresAt }
    : { kind: 'key', keyId: session.keyId, expiresAt }
}
