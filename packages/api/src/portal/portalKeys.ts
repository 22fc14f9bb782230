import { z } from 'zod'
import { mintedByField } from '../keys/mintedKeys.js'
import type { KeyInfo, PaywallKeys } from '../paywall/operatorKeys.js'
import {
  ownKeys,
  type PortalHandler,
  PortalRefusal,
  type PortalRequest,
  portalJson,
  principalOf,
  stillSignedIn,
} from './portalContext.js'

const shown = (key: KeyInfo) => ({
  id: key.id,
  name: key.name,
  plan: key.plan,
  start: key.start,
  state: key.state,
  createdAt: new Date(key.createdAt).toISOString(),
  ...(key.revokedAt ? { revokedAt: new Date(key.revokedAt).toISOString() } : {}),
  ...(key.expiresAt ? { expiresAt: new Date(key.expiresAt).toISOString() } : {}),
})

function requireKeys(request: PortalRequest): PaywallKeys {
  const keys = request.rt.adminKeys
  if (!keys) throw new PortalRefusal(404, 'keys_not_configured', 'this API has no API keys')
  return keys
}

/** `GET /api/keys`: the caller's own keys, and the plans it may create keys on. */
export const listOwnKeys: PortalHandler = async (request) => {
  const principal = await principalOf(request)
  requireKeys(request)
  const keys = await ownKeys(request, principal)
  const plans = (await request.rt.adminKeys!.plans()).filter((p) => request.portal.selfServicePlans.includes(p.name))
  return portalJson(200, { keys: keys.map(shown), plans })
}

const NewKey = z.object({ name: z.string().trim().min(1).max(100), plan: z.string().min(1).max(100) }).strict()

/** Live self-service keys one caller may hold at once. */
const maxOwnKeys = 20

/**
 * `POST /api/keys` `{ name, plan }`: a key for the caller, on a plan the seller allows
 * (`portal.selfServiceKeys.plans`). The key is in the answer once.
 */
export const createOwnKey: PortalHandler = async (request) => {
  const principal = await principalOf(request)
  const keys = requireKeys(request)
  const allowed = request.portal.selfServicePlans
  if (allowed.length === 0) {
    throw new PortalRefusal(403, 'self_service_off', 'this API issues keys itself: ask its operator for one')
  }
  const parsed = NewKey.safeParse(await request.body())
  if (!parsed.success) {
    throw new PortalRefusal(400, 'invalid_request', `send { "name": "my app", "plan": "${allowed[0]}" }`)
  }
  const { name, plan } = parsed.data
  if (!allowed.includes(plan)) {
    throw new PortalRefusal(
      403,
      'plan_not_allowed',
      `keys here are self-service on ${allowed.join(', ')} only, not "${plan.slice(0, 100)}"`,
    )
  }
  const live = (await ownKeys(request, principal)).filter((k) => k.state === 'active')
  if (live.length >= maxOwnKeys) {
    throw new PortalRefusal(409, 'too_many_keys', `you hold ${live.length} active keys: revoke one first`)
  }
  // The key session's key is named, so that revoking that key revokes this one, whoever owns it.
  const metadata = { source: 'portal', ...(principal.key ? { [mintedByField]: principal.key.id } : {}) }
  const { key, info } = await keys.create({ name, plan, owner: principal.owner, metadata })
  // Revoked meanwhile, the session's key missed this one: it goes the same way.
  await stillSignedIn(request, principal, () => keys.revoke(info.id))
  return portalJson(201, { key, info: shown(info), message: 'shown once: copy the key now' })
}

/** `DELETE /api/keys/:id`: revokes one of the caller's own keys (another's is not found). */
export const revokeOwnKey: PortalHandler = async (request) => {
  const principal = await principalOf(request)
  const keys = requireKeys(request)
  const id = request.params[0] as string
  const own = (await ownKeys(request, principal)).find((k) => k.id === id)
  if (!own)
    throw new PortalRefusal(
      404,
      'key_not_found',
      `you have no key ${id.slice(0, 100)}: list yours with GET /__402x/portal/api/keys`,
    )
  if (own.state !== 'active') throw new PortalRefusal(409, 'key_not_active', `the key ${id} is ${own.state} already`)
  await keys.revoke(id)
  return portalJson(200, { revoked: true, id })
}
