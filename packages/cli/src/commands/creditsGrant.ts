import { randomUUID } from 'node:crypto'
import { formatMoney, parseMoney, X402Error } from '@402x/core'
import { checkGrant, issueToken } from '402x-api'
import { accountOfToken, creditDecimals, openCreditLedger, resolveLedgerPath } from '../creditLedger.js'
import { createUi } from '../ui.js'

export type CreditsGrantOptions = {
  /** Dollars, e.g. `"5"` or `"0.25"`. */
  amount: string
  /** Adds to this token's account; without it, a new account is opened. */
  token?: string
  /**
   * Makes the grant idempotent: the same ref and amount grant once (a repeat without
   * `--token` reports the first grant's account, `replayed`); another amount is refused.
   * @default a random `grant_<uuid>`
   */
  ref?: string
  note?: string
  /** The ledger file. @default `X402_DATABASE_URL`, else `.402x/ledger.db` */
  ledger?: string
  json: boolean
}

/**
 * `402x credits grant <dollars>`: operator credit (`system:grants → caller`), written to the
 * ledger file; a running server sees it within a millisecond. Without `--token` it opens an
 * account and prints its token, once: only the token's hash is stored.
 */
export async function creditsGrant(options: CreditsGrantOptions): Promise<number> {
  const ui = createUi({ json: options.json })
  const amount = parseMoney(options.amount, { decimals: creditDecimals, name: 'amount' })
  checkGrant(amount, creditDecimals)
  const location = resolveLedgerPath(options.ledger)
  const ledger = openCreditLedger(location)
  try {
    let account: string
    let token: string | undefined
    // A repeat of `--ref` without `--token` reaches the first grant's account: opening a new
    // account first would make the ref's grant look like one to another account.
    const earlier = options.ref !== undefined ? await ledger.grantOf(options.ref) : undefined
    if (options.token !== undefined) {
      account = await accountOfToken(ledger, options.token, location)
    } else if (earlier) {
      account = earlier.account
    } else {
      // Linked before the grant: a crash in between leaves an empty account, never credit
      // that no token can reach.
      account = `acct_${randomUUID()}`
      const issued = issueToken()
      await ledger.linkToken(issued.hash, account)
      token = issued.token
    }
    const ref = options.ref ?? `grant_${randomUUID()}`
    const { replayed } = await ledger
      .grant({ account, amount, ref, ...(options.note ? { note: options.note } : {}) })
      .catch((error: unknown) => {
        if (error instanceof X402Error && error.details.ref === ref) {
          throw new X402Error('invalid_request', {
            message: `--ref ${ref} was already used for a grant of ${earlier ? `$${formatMoney(earlier.amount, creditDecimals)}` : 'another amount'}${options.token !== undefined && earlier && earlier.account !== account ? ' to another account' : ''}: nothing was granted. Pass a new --ref, or repeat the first grant exactly (same amount${options.token !== undefined ? ' and --token' : ''})`,
            cause: error,
          })
        }
        throw error
      })
    const { available, reserved } = await ledger.balance(account)
    const usd = (n: bigint) => formatMoney(n, creditDecimals)
    if (options.json) {
      process.stdout.write(
        `${JSON.stringify({
          account,
          ...(token ? { token } : {}),
          amount: usd(amount),
          ref,
          replayed,
          balance: { available: usd(available), reserved: usd(reserved) },
          ledger: location.path,
        })}\n`,
      )
      return 0
    }
    ui.done(
      replayed
        ? `ref ${ref} was granted before: nothing moved; ${account} has $${usd(available)} available`
        : `granted $${usd(amount)} to ${token ? 'new account ' : ''}${account} (ref ${ref}); available $${usd(available)}`,
    )
    if (token) {
      process.stdout.write(`${token}\n`)
      ui.info(ui.dim('  the credit token above is shown once (only its hash is stored); callers send it as'))
      ui.info(ui.dim('  Authorization: Bearer <token>'))
    }
    return 0
  } finally {
    await ledger.close()
  }
}
