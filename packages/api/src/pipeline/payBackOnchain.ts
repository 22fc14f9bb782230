import { creditService, type PaywallRuntime } from './runtime.js'

/** What {@link payBackOnchain} did: the credit left, and whether the money went on chain. */
export type PaidBack = {
  balance: bigint
  refund: 'credit' | 'onchain'
  transaction?: string
  /** Sent, and not confirmed: it may still land (never credited as well). */
  unconfirmed?: true
}

/**
 * Sends `amount` of an account's credit back to `payer` on chain (`credits.refund: 'onchain'`),
 * once per `ref`: the payout leaves the credit first, then the transfer goes out. A transfer
 * that moved nothing puts the credit back; one that was sent and may still land is never
 * credited as well (that would refund twice). Never throws: what the ledger holds stands.
 */
export async function payBackOnchain(
  rt: PaywallRuntime,
  input: { account: string; amount: bigint; ref: string; payer: string; balance: bigint },
): Promise<PaidBack> {
  const { events } = rt
  const credits = rt.config.credits
  const service = creditService(rt)
  const { account, amount, ref } = input
  let balance = input.balance
  let paidOut = false
  try {
    const posted = await service.payout(account, amount, ref)
    balance = posted.balance
    // A payout already posted under this ref: it was sent (or tried) then.
    paidOut = !posted.replayed
  } catch (error) {
    events.emit('error', error)
  }
  if (!paidOut || !credits) return { balance, refund: 'credit' }
  try {
    const { transaction } = await credits.refunder().send({ to: input.payer, amount, ref })
    return { balance, refund: 'onchain', transaction }
  } catch (error) {
    events.emit('error', error)
    const details = (error as { details?: { moved?: unknown; transaction?: string } }).details
    if (details?.moved === false) {
      // Nothing left the wallet: the amount stays the caller's credit.
      balance = await service
        .topUp(account, amount, `${ref}:failed`)
        .then((posted) => posted.balance)
        .catch(() => balance)
      return { balance, refund: 'credit' }
    }
    return {
      balance,
      refund: 'onchain',
      unconfirmed: true,
      ...(details?.transaction ? { transaction: details.transaction } : {}),
    }
  }
}
