import { randomBytes } from 'node:crypto'
import { X402Error } from '@402x/core'
import type { PlanDefinition } from '../keys/types.js'

/** `portal: { … }` on `x402Middleware()` (docs/portal.md). */
export type PortalOptions = {
  /**
   * Let signed-in callers create and revoke their own API keys on these plans (names of
   * plans given in `keys.plans`). Without it the portal lists a caller's keys but creates none.
   * @default off
   */
  selfServiceKeys?: { plans: string[] }
  /**
   * How long a portal session lasts after sign-in, in ms (from 1 minute to a day).
   * @default 3600000 (an hour)
   */
  sessionTtlMs?: number
  /**
   * The secret that signs session cookies (32 characters or more). Give the same one to every
   * instance behind a load balancer. Else `X402_PORTAL_SECRET`, else a random one per process.
   */
  sessionSecret?: string
}

/** The portal's settings, checked once at start-up. */
export type ResolvedPortal = {
  selfServicePlans: string[]
  sessionTtlMs: number
  secret: Buffer
}

const fail = (option: string, message: string) =>
  new X402Error('invalid_config', { message: `portal.${option}: ${message}`, details: { option: `portal.${option}` } })

/**
 * Reads the `portal` option; `undefined` when `portal: false`. Self-service plans must be
 * plans given in code (`keys.plans`), or start-up stops with `invalid_config`.
 *
 * @example
 * const portal = resolvePortal({ selfServiceKeys: { plans: ['free'] } }, [plans.free()], process.env)
 */
export function resolvePortal(
  options: PortalOptions | false | undefined,
  codePlans: PlanDefinition[] | undefined,
  env: Record<string, string | undefined>,
): ResolvedPortal | undefined {
  if (options === false) return undefined
  const given = options ?? {}
  const plans = given.selfServiceKeys?.plans ?? []
  if (given.selfServiceKeys) {
    if (!Array.isArray(plans) || plans.length === 0 || plans.some((p) => typeof p !== 'string')) {
      throw fail('selfServiceKeys.plans', "give the names of the plans callers may pick, e.g. { plans: ['free'] }")
    }
    if (!codePlans) {
      throw fail(
        'selfServiceKeys',
        'self-service keys need API keys: pass keys: { plans: [plans.free()] } to x402Middleware() (docs/api-keys.md)',
      )
    }
    const known = codePlans.map((p) => p.name)
    const unknown = plans.find((p) => !known.includes(p))
    if (unknown !== undefined) {
      throw fail(
        'selfServiceKeys.plans',
        `there is no plan "${unknown}" in keys.plans: give one of ${known.join(', ')}`,
      )
    }
  }
  const ttl = given.sessionTtlMs ?? 3_600_000
  if (!Number.isInteger(ttl) || ttl < 60_000 || ttl > 86_400_000) {
    throw fail('sessionTtlMs', `${ttl} is not a whole number of ms from 60000 (a minute) to 86400000 (a day)`)
  }
  const secret = given.sessionSecret ?? env.X402_PORTAL_SECRET
  if (secret !== undefined && secret.length < 32) {
    throw fail('sessionSecret', 'give at least 32 random characters (openssl rand -hex 32), or leave it out')
  }
  return {
    selfServicePlans: [...new Set(plans)],
    sessionTtlMs: ttl,
    secret: secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8'),
  }
}
