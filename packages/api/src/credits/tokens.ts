import { createHash, randomBytes } from 'node:crypto'

/** The prefix of every credit token, so that a leaked one is recognisable (secret scanners). */
export const tokenPrefix = 'x402c_'

/** The sha256 of a token, as lower-case hex: what the ledger stores and looks up. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/**
 * Issues a bearer token for prepaid credit: `x402c_` and 32 random bytes (base64url). Give
 * `token` to the caller once; store only `hash` (with `ledger.linkToken`). A lookup hashes
 * the presented token, so comparing it never leaks timing about the stored secret.
 *
 * @example
 * const { token, hash } = issueToken()
 * await ledger.linkToken(hash, 'alice')
 */
export function issueToken(): { token: string; hash: string } {
  const token = `${tokenPrefix}${randomBytes(32).toString('base64url')}`
  return { token, hash: hashToken(token) }
}
