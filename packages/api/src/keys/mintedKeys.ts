import type { StoreEvent } from '../webhooks/types.js'
import type { ApiKeyRecord, RevokeEvents } from './types.js'

/**
 * The `owner` of the keys a portal session signed in with key `id` creates, when that key has
 * no owner of its own: what `KeyStore.revoke(id)` revokes with it.
 */
export const mintedOwner = (id: string) => `key:${id}`

/**
 * The metadata field naming the key a portal session created a key with (`metadata.mintedBy`):
 * a key with an `owner` gives its minted keys that owner, so the owner alone cannot tell them
 * from the operator's own keys for it.
 */
export const mintedByField = 'mintedBy'

/** Whether `record` was minted from key `id`: owned by `key:<id>`, or `metadata.mintedBy` it. */
export const mintedFrom = (record: ApiKeyRecord, id: string) =>
  record.owner === mintedOwner(id) || record.metadata[mintedByField] === id

/**
 * The webhook events a revoke writes for the keys it `revoked` (the requested key `id`, then
 * the keys minted from it): an array once, when `id` itself was revoked by this call; a
 * function once per key revoked.
 */
export function revokeEventsOf(
  events: RevokeEvents | undefined,
  id: string,
  revoked: readonly ApiKeyRecord[],
): readonly StoreEvent[] | undefined {
  if (typeof events === 'function') return revoked.flatMap((record) => events(record))
  return revoked.some((record) => record.id === id) ? events : undefined
}

/** The key `id` first, then the others by creation: the order a revoke reports them in. */
export const revokedOrder = (id: string) => (a: ApiKeyRecord, b: ApiKeyRecord) =>
  a.id === id ? -1 : b.id === id ? 1 : a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)
