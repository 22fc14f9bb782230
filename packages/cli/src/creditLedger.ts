import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { stateDir, X402Error } from '@402x/core'
import { type CreditStore, createCreditLedger, createPostgresCreditStore } from '402x-api'

/**
 * The credit ledger keeps atomic units of the paywall's asset; the CLI speaks dollars of
 * USDC, which has 6 decimals on every network 402x knows.
 */
export const creditDecimals = 6

/**
 * Where the credit ledger is, and what chose it (for messages): a SQLite file, or a
 * PostgreSQL database (`url`; `path` is then the URL without its password, for messages).
 */
export type LedgerLocation = { path: string; from: '--ledger' | 'X402_DATABASE_URL' | 'default'; url?: string }

/**
 * Finds the credit ledger as a server started in this folder does: `--ledger`, else
 * `X402_DATABASE_URL`, else `.402x/ledger.db` (the API keeps credit in its payments ledger's
 * file unless `credits.path` says otherwise; pass that path with `--ledger` then).
 */
export function resolveLedgerPath(given: string | undefined, env = process.env): LedgerLocation {
  const [url, from] = given
    ? [given, '--ledger' as const]
    : env.X402_DATABASE_URL
      ? [env.X402_DATABASE_URL, 'X402_DATABASE_URL' as const]
      : [undefined, 'default' as const]
  if (url && /^postgres(ql)?:\/\//i.test(url))
    return { path: url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@'), from, url }
  if (url === ':memory:') {
    throw new X402Error('invalid_config', {
      message: `${from} is :memory:, which only its own process can reach: pass the ledger's file with --ledger <path>`,
    })
  }
  return { path: url ? url.replace(/^sqlite:(\/\/)?/, '') : join(stateDir(), 'ledger.db'), from }
}

/**
 * Opens the credit ledger: the PostgreSQL database (migrated on first use, as a server
 * does), or the SQLite file. A missing file is refused, wherever its path came from: a
 * server creates its ledger when it starts, so a path with no ledger is not one a server
 * reads, and a token granted there would be worthless.
 */
export function openCreditLedger(location: LedgerLocation): CreditStore {
  if (location.url) return createPostgresCreditStore({ url: location.url })
  if (!existsSync(location.path)) {
    throw new X402Error('invalid_config', {
      message: `no ledger at ${location.path}${location.from === 'default' ? '' : ` (from ${location.from})`}: a server creates its ledger when it starts, so start it once, then run 402x in its folder, pass --ledger <its ledger file>, or set X402_DATABASE_URL`,
    })
  }
  return createCreditLedger({ path: location.path })
}

const tokenPattern = /^x402c_[A-Za-z0-9_-]{16,}$/

/** The account of a credit token, or an error that says why there is none. */
export async function accountOfToken(ledger: CreditStore, token: string, location: LedgerLocation): Promise<string> {
  if (!tokenPattern.test(token)) {
    throw new X402Error('invalid_request', {
      message: `--token "${token.length > 12 ? `${token.slice(0, 12)}…` : token}" is not a credit token: give the x402c_… token that a grant or a top-up printed`,
    })
  }
  const account = await ledger.accountForToken(token)
  if (!account) {
    throw new X402Error('invalid_request', {
      message: `this credit token is not known in ${location.path}: check the folder or --ledger, or run \`402x credits grant <dollars>\` without --token to open a new account`,
    })
  }
  return account
}
