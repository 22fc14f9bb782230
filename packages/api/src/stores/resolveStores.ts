import { join } from 'node:path'
import { stateDir, X402Error } from '@402x/core'
import { createSqliteLedger } from '../ledger/createSqliteLedger.js'
import { openRateLimitStore } from '../ratelimit/openRateLimitStore.js'
import { createMemoryCounters } from './createMemoryCounters.js'
import { createMemoryLocks } from './createMemoryLocks.js'
import { createMemorySpentProofs } from './createMemorySpentProofs.js'
import type { CreditStore, Locks, PaymentLedger, Stores, StoresOptions } from './types.js'

/** The options `resolveStores` reads: the paywall's own. */
export type StoreSources = {
  /** The payments ledger, or a SQLite file path (the top-level `ledger` option). */
  ledger?: PaymentLedger | string | undefined
  locks?: Locks | undefined
  /** `credits.path`, when credit is on. */
  creditsPath?: string | undefined
  stores?: StoresOptions | undefined
}

/** A URL of a backend that is not here yet, refused by name rather than read as a file path. */
const networked = /^(postgres(ql)?|rediss?):\/\//i

/** The SQLite file a setting names, or a clear refusal for a PostgreSQL or Redis URL. */
function sqlitePath(value: string, name: string): string {
  if (networked.test(value)) {
    const kind = /^redis/i.test(value) ? 'Redis' : 'PostgreSQL'
    throw new X402Error('invalid_config', {
      message: `PostgreSQL and Redis stores come with the scale-out release: ${name} is a ${kind} URL; leave it unset (or give a SQLite file path, or a store object in \`stores\`) to use the embedded SQLite and in-process stores`,
      details: { option: name },
    })
  }
  return value.replace(/^sqlite:(\/\/)?/, '')
}

/** One of two options that say the same thing: both given is refused, not guessed. */
function either<T>(a: T | undefined, aName: string, b: T | undefined, bName: string): T | undefined {
  if (a !== undefined && b !== undefined) {
    throw new X402Error('invalid_config', {
      message: `${aName} and ${bName} both choose the same store: give one of them`,
      details: { option: bName },
    })
  }
  return a ?? b
}

/**
 * The one place that picks the paywall's stores: an object given in the options is used as
 * it is; a string is a SQLite file; else the defaults (the SQLite ledger under `.402x/`, the
 * credit store in the same file, in-process locks, proofs and counters). Only the payments
 * ledger is opened here; the credit store is opened when credit is on.
 *
 * @example
 * const stores = resolveStores({ stores: { locks: myLocks } }, process.env)
 */
export function resolveStores(
  options: StoreSources,
  env: Record<string, string | undefined>,
): Stores & { ledgerPath?: string } {
  const given = options.stores ?? {}
  const ledgerOption = either(options.ledger, 'ledger', given.ledger, 'stores.ledger')
  const ledgerPath =
    typeof ledgerOption === 'object'
      ? undefined
      : ledgerOption
        ? sqlitePath(ledgerOption, options.ledger !== undefined ? 'ledger' : 'stores.ledger')
        : env.X402_DATABASE_URL
          ? sqlitePath(env.X402_DATABASE_URL, 'X402_DATABASE_URL')
          : join(stateDir(), 'ledger.db')
  const creditsOption = either(options.creditsPath, 'credits.path', given.credits, 'stores.credits')
  const credits: CreditStore | { path: string } =
    typeof creditsOption === 'object'
      ? creditsOption
      : {
          path: creditsOption
            ? sqlitePath(creditsOption, options.creditsPath !== undefined ? 'credits.path' : 'stores.credits')
            : (ledgerPath ?? join(stateDir(), 'credits.db')),
        }
  const locks = either(options.locks, 'locks', given.locks, 'stores.locks') ?? createMemoryLocks()
  const rateLimits = openRateLimitStore(given.rateLimits, env)
  // Opened last, once every setting is known good: a refusal leaves no file open.
  let ledger: PaymentLedger
  try {
    ledger = typeof ledgerOption === 'object' ? ledgerOption : createSqliteLedger({ path: ledgerPath as string })
  } catch (error) {
    void rateLimits.release()
    throw error
  }
  return {
    ledger,
    ...(ledgerPath !== undefined ? { ledgerPath } : {}),
    credits,
    locks,
    spentProofs: given.spentProofs ?? createMemorySpentProofs(),
    counters: given.counters ?? createMemoryCounters(),
    rateLimits: rateLimits.store,
    release: rateLimits.release,
  }
}
