import { formatMoney, X402Error } from '@402x/core'

/** The most one operator grant may give, in whole dollars: a typo of a few zeros is refused. */
export const maxGrantDollars = 1_000_000

/**
 * Checks an operator grant's amount (atomic units of an asset with `decimals`): above 0 and
 * at most {@link maxGrantDollars}. Throws `invalid_money` with what to do otherwise.
 */
export function checkGrant(amount: bigint, decimals: number): void {
  if (amount <= 0n) {
    throw new X402Error('invalid_money', {
      message: `amount is $${formatMoney(amount, decimals)}: grant more than 0 dollars, e.g. 402x credits grant 5`,
    })
  }
  if (amount > BigInt(maxGrantDollars) * 10n ** BigInt(decimals)) {
    throw new X402Error('invalid_money', {
      message: `amount is $${formatMoney(amount, decimals)}: one grant gives at most $${maxGrantDollars.toLocaleString('en-US')}; grant a larger sum in several grants, each with its own ref`,
    })
  }
}
