import { join } from 'node:path'
import { stateDir, X402Error } from '@402x/core'
import type { ConfigFile } from '../config/resolveConfig.js'
import { createPostgresLedger } from '../ledger/createPostgresLedger.js'
import { createSqliteLedger } from '../ledger/createSqliteLedger.js'
import { isPostgresUrl } from '../postgres/openPostgres.js'
import { migrateOnStart } from '../postgres/schemas.js'
import { openRateLimitStore } from '../ratelimit/openRateLimitStore.js'
import { type Backends, pickBackends } from './pickBackends.js'
import { sharedStores } from './sharedStores.js'
import type { CreditStore, Locks, PaymentLedger, Stores, StoresOptions } from './types.js'

/** The options `resolveStores` reads: the paywall's own. */
export type StoreSources = {
  /** The payments ledger, a SQLite file path or a PostgreSQL URL (the top-level `ledger` option). */
  ledger?: PaymentLedger | string | undefined
  locks?: Locks | undefined
  /** `credits.path`, when credit is on. */
  creditsPath?: string | undefined
  stores?: StoresOptions | undefined
}

/** A Redis URL where a SQLite file or PostgreSQL is meant: refused by name, not read as a path. */
function durableLocation(value: string, name: string): { path: string } | { url: string } {
  if (isPostgresUrl(value)) return { url: value }
  if (/^rediss?:\/\//i.test(value)) {
    throw new X402Error('invalid_config', {
      message: `${name} is a Redis URL: Redis holds locks and limits, not the ledger of record; give a PostgreSQL URL (postgres://…), a SQLite file path, or leave it unset`,
      details: { option: name },
    })
  }
  return { path: value.replace(/^sqlite:(\/\/)?/, '') }
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

let warnedPerMachine = false
/** The same, once per process, for a SQLite ledger given in code beside a PostgreSQL URL. */
let warnedSplit = false

/**
 * The one place that picks the paywall's stores (docs/deploying.md). An object given in the
 * options is used as it is; a string is a SQLite file or a PostgreSQL URL; else the
 * backends (`stores.databaseUrl` / `X402_DATABASE_URL`, `stores.redisUrl` /
 * `X402_REDIS_URL`, or `402x.config.json`) decide:
 * - PostgreSQL: the ledger, credit, keys and usage; also locks, proofs, counters and rate
 *   limits when there is no Redis;
 * - Redis: locks, sign-in proofs, counters and rate limits;
 * - neither: the SQLite ledger under `.402x/` and the rest in this process.
 * Only the payments ledger is opened here; the credit store is opened when credit is on.
 *
 * @example
 * const stores = resolveStores({ stores: { databaseUrl: 'postgres://127.0.0.1/app' } }, process.env)
 */
export function resolveStores(
  options: StoreSources,
  env: Record<string, string | undefined>,
  file?: ConfigFile,
): Stores & { ledgerPath?: string; ledgerUrl?: string } {
  const given = options.stores ?? {}
  const backends = pickBackends(given, env, file)
  const ledgerOption = either(options.ledger, 'ledger', given.ledger, 'stores.ledger')
  const ledgerName = options.ledger !== undefined ? 'ledger' : 'stores.ledger'
  const ledgerAt =
    typeof ledgerOption === 'object'
      ? undefined
      : ledgerOption
        ? durableLocation(ledgerOption, ledgerName)
        : backends.postgres
          ? { url: backends.postgres.url }
          : { path: backends.sqliteFile?.url.replace(/^sqlite:(\/\/)?/, '') ?? join(stateDir(), 'ledger.db') }
  const ledgerPath = ledgerAt && 'path' in ledgerAt ? ledgerAt.path : undefined
  const creditsOption = either(options.creditsPath, 'credits.path', given.credits, 'stores.credits')
  const credits: CreditStore | { path: string } | { url: string } =
    typeof creditsOption === 'object'
      ? creditsOption
      : creditsOption
        ? durableLocation(creditsOption, options.creditsPath !== undefined ? 'credits.path' : 'stores.credits')
        : ledgerAt && 'url' in ledgerAt
          ? ledgerAt
          : backends.postgres
            ? { url: backends.postgres.url }
            : { path: ledgerPath ?? join(stateDir(), 'credits.db') }
  if (backends.postgres && ledgerPath !== undefined && ledgerOption && !warnedSplit) {
    warnedSplit = true
    console.warn(
      `402x: ${ledgerName} is the SQLite file ${ledgerPath}, but ${backends.postgres.from} names PostgreSQL: the ledger, credit, keys and usage stay in that file on this machine while locks, proofs and rate limits go to PostgreSQL. Leave out ${ledgerName} to keep all of them in PostgreSQL, or ${backends.postgres.from} to keep all of them on this machine (docs/deploying.md).`,
    )
  }
  if (backends.redis && !backends.postgres && !warnedPerMachine && !(ledgerAt && 'url' in ledgerAt)) {
    warnedPerMachine = true
    console.warn(
      `402x: ${backends.redis.from} shares locks and limits on Redis, but the ledger is the SQLite file ${ledgerPath ?? '(given in code)'} on this machine: instances on other machines keep their own. Set X402_DATABASE_URL=postgres://… to share the ledger too (docs/deploying.md).`,
    )
  }
  // A ledger or credit store named by a PostgreSQL URL alone shares the rest there too:
  // instances that share a ledger must share their locks, proofs and counters.
  const sharedOn: Backends = backends.postgres
    ? backends
    : ledgerAt && 'url' in ledgerAt
      ? { ...backends, postgres: { url: ledgerAt.url, from: ledgerName } }
      : 'url' in credits && typeof credits.url === 'string'
        ? { ...backends, postgres: { url: credits.url, from: 'credits.path' } }
        : backends
  const shared = sharedStores(sharedOn, given, either(options.locks, 'locks', given.locks, 'stores.locks'))
  const rateLimits = openRateLimitStore(
    given.rateLimits ?? shared.rateLimits,
    backends.redis ? { X402_REDIS_URL: backends.redis.url } : {},
    given.rateLimits !== undefined ? 'stores.rateLimits' : (backends.redis?.from ?? 'stores.rateLimits'),
  )
  for (const [url, from] of postgresUrls(backends, ledgerAt, credits)) void migrateOnStart(url, from)
  // Opened last, once every setting is known good: a refusal leaves nothing open.
  let ledger: PaymentLedger
  try {
    ledger =
      typeof ledgerOption === 'object'
        ? ledgerOption
        : ledgerAt && 'url' in ledgerAt
          ? createPostgresLedger({ url: ledgerAt.url })
          : createSqliteLedger({ path: ledgerPath as string })
  } catch (error) {
    void rateLimits.release()
    void shared.release()
    throw error
  }
  return {
    ledger,
    ...(ledgerPath !== undefined ? { ledgerPath } : {}),
    ...(ledgerAt && 'url' in ledgerAt ? { ledgerUrl: ledgerAt.url } : {}),
    credits,
    locks: shared.locks,
    spentProofs: shared.spentProofs,
    counters: shared.counters,
    rateLimits: rateLimits.store,
    backends,
    async release() {
      await rateLimits.release()
      await shared.release()
    },
  }
}

/** Every PostgreSQL database the stores use, once each, with where it was named. */
function postgresUrls(
  backends: Backends,
  ledgerAt: { path: string } | { url: string } | undefined,
  credits: object,
): [string, string][] {
  const urls = new Map<string, string>()
  if (backends.postgres) urls.set(backends.postgres.url, backends.postgres.from)
  if (ledgerAt && 'url' in ledgerAt && !urls.has(ledgerAt.url)) urls.set(ledgerAt.url, 'ledger')
  if ('url' in credits && typeof credits.url === 'string' && !urls.has(credits.url))
    urls.set(credits.url, 'credits.path')
  return [...urls]
}

export type { Backends }
