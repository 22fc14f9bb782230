import { join } from 'node:path'
import { stateDir, X402Error } from '@402x/core'
import { isPostgresUrl } from '../postgres/openPostgres.js'
import { type ResolvedLimit, resolveRateLimit } from '../ratelimit/resolveRateLimit.js'
import type { RateLimitStore } from '../ratelimit/types.js'
import { checkPlan } from './checkPlan.js'
import { createKeyLookup } from './createKeyLookup.js'
import { createPostgresKeyStore } from './createPostgresKeyStore.js'
import { createPostgresUsageStore } from './createPostgresUsageStore.js'
import { createSqliteKeyStore } from './createSqliteKeyStore.js'
import { createSqliteUsageStore } from './createSqliteUsageStore.js'
import type { KeysOptions } from './options.js'
import type { KeyLookup, KeyStore, PlanDefinition, UsageStore } from './types.js'

/** API keys as a paywall uses them: the stores, the lookup, each plan's limits. */
export type ResolvedKeys = {
  store: KeyStore
  usage: UsageStore
  lookup: KeyLookup
  header: string
  /** The rate limits of a plan, resolved once per plan definition (counted by key). */
  limitsOf(plan: PlanDefinition): ResolvedLimit[]
  close(): Promise<void>
}

/**
 * Opens the key and usage stores (the ledger's SQLite file unless given) and checks every
 * plan, or stops start-up with an `invalid_config` error naming what is wrong.
 */
export function resolveKeys(
  options: KeysOptions,
  context: {
    ledgerPath: string | undefined
    ledgerUrl?: string | undefined
    rateLimits: RateLimitStore
    credits: boolean
  },
): ResolvedKeys {
  if (!Array.isArray(options.plans) || options.plans.length === 0) {
    throw new X402Error('invalid_config', {
      message:
        'keys.plans is empty: give the plans keys can be on, e.g. keys: { plans: [plans.free(), plans.payAsYouGo()] }',
      details: { option: 'keys.plans' },
    })
  }
  const checked = options.plans.map((plan) => checkPlan(plan))
  const names = new Set<string>()
  for (const plan of checked) {
    if (names.has(plan.name)) {
      throw new X402Error('invalid_config', {
        message: `keys.plans has two plans named "${plan.name}": give each plan its own name`,
        details: { option: 'keys.plans' },
      })
    }
    names.add(plan.name)
  }
  const drawing = checked.find((plan) => plan.billing === 'credits' || plan.overage !== 'block')
  if (drawing && !context.credits) {
    throw new X402Error('invalid_config', {
      message: `the plan "${drawing.name}" draws from the key's credit (pay-as-you-go, or billed overage): leave credits on`,
      details: { option: 'keys.plans' },
    })
  }
  // Beside the payments ledger: its PostgreSQL database, else its SQLite file.
  const file = context.ledgerPath ?? join(stateDir(), 'keys.db')
  const at = (option: string | undefined) => option ?? context.ledgerUrl ?? file
  const keyStoreAt = at(typeof options.store === 'string' ? options.store : undefined)
  const usageAt = at(typeof options.usage === 'string' ? options.usage : undefined)
  const store =
    typeof options.store === 'object'
      ? options.store
      : isPostgresUrl(keyStoreAt)
        ? createPostgresKeyStore({ url: keyStoreAt })
        : createSqliteKeyStore({ path: keyStoreAt })
  const usage =
    typeof options.usage === 'object'
      ? options.usage
      : isPostgresUrl(usageAt)
        ? createPostgresUsageStore({ url: usageAt })
        : createSqliteUsageStore({ path: usageAt })
  const limits = new WeakMap<PlanDefinition, ResolvedLimit[]>()
  return {
    store,
    usage,
    lookup: createKeyLookup(store, { plans: checked }),
    header: (options.header ?? 'x-api-key').toLowerCase(),
    limitsOf(plan) {
      let resolved = limits.get(plan)
      if (!resolved) {
        // Counted by key: each key of the plan has its own allowance, whatever its address.
        resolved = plan.rateLimits.map((limit, i) =>
          resolveRateLimit(
            { ...limit, by: 'key' },
            {
              where: `plan "${plan.name}" rateLimits[${i}]`,
              scope: `plan:${plan.name}:${i}`,
              store: context.rateLimits,
              onStoreError: 'fail-closed',
            },
          ),
        )
        limits.set(plan, resolved)
      }
      return resolved
    },
    async close() {
      if (typeof options.store !== 'object') await store.close()
      if (typeof options.usage !== 'object') await usage.close()
    },
  }
}
