import { createSpentNonces } from '../paywall/spentNonces.js'
import type { SpentProofs } from './types.js'

/**
 * Spent sign-in proofs for one process (the default): a proof is refused a second time
 * here, not in another process (Redis, next, shares them).
 *
 * @example
 * const proofs = createMemorySpentProofs()
 * await proofs.spend(`${address}:${nonce}`, expiresAt) // true, then false
 */
export function createMemorySpentProofs(): SpentProofs {
  const spend = createSpentNonces()
  return { spend: async (key, expiresAt) => spend(key, expiresAt) }
}
