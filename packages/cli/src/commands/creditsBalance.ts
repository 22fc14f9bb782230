import { formatMoney } from '@402x/core'
import { accountOfToken, creditDecimals, openCreditLedger, resolveLedgerPath } from '../creditLedger.js'
import { createUi } from '../ui.js'

export type CreditsBalanceOptions = {
  token: string
  /** How many of the latest entries to show. @default 10 */
  limit: number
  /** The ledger file. @default `X402_DATABASE_URL`, else `.402x/ledger.db` */
  ledger?: string
  json: boolean
}

/** `402x credits balance --token x402c_…`: available and reserved credit, and the latest entries. */
export async function creditsBalance(options: CreditsBalanceOptions): Promise<number> {
  const ui = createUi({ json: options.json })
  const location = resolveLedgerPath(options.ledger)
  const ledger = openCreditLedger(location)
  try {
    const account = await accountOfToken(ledger, options.token, location)
    const { available, reserved } = await ledger.balance(account)
    const entries = await ledger.entries(account, { limit: options.limit })
    const usd = (n: bigint) => formatMoney(n, creditDecimals)
    const signed = (n: bigint) => (n < 0n ? `-$${usd(-n)}` : `+$${usd(n)}`)
    if (options.json) {
      process.stdout.write(
        `${JSON.stringify({
          account,
          balance: { available: usd(available), reserved: usd(reserved) },
          entries: entries.map((e) => ({
            id: e.id,
            transactionId: e.transactionId,
            kind: e.kind,
            account: e.account,
            amount: usd(e.amount),
            ref: e.ref,
            ...(e.note ? { note: e.note } : {}),
            at: new Date(e.createdAt).toISOString(),
          })),
          ledger: location.path,
        })}\n`,
      )
      return 0
    }
    const lines = [
      // Plain text: stdout may be a pipe even when stderr (which the ui colours) is a terminal.
      account,
      `  available  $${usd(available)}`,
      `  reserved   $${usd(reserved)}`,
      '',
      entries.length === 0 ? 'no entries yet' : `latest ${entries.length} entries`,
      ...entries.map(
        (e) =>
          `  ${new Date(e.createdAt).toISOString()}  ${e.kind.padEnd(8)} ${signed(e.amount).padStart(12)}  ${(e.account.startsWith('hold:') ? 'reserved' : 'available').padEnd(9)}  ${e.ref}${e.note ? `  (${e.note})` : ''}`,
      ),
    ]
    process.stdout.write(`${lines.join('\n')}\n`)
    ui.info(ui.dim(`ledger ${location.path}`))
    return 0
  } finally {
    await ledger.close()
  }
}
