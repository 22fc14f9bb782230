import { randomUUID } from 'node:crypto'
import { formatMoney, parseMoney, X402Error } from '@402x/core'
import { checkGrant } from '../credits/checkGrant.js'
import type { ResolvedCredits } from './credits.js'
import { dollars } from './dollars.js'
import type { Price } from './types.js'

/** `paywall.credits`: the operator's side of prepaid credit. */
export type PaywallCredits = {
  /**
   * Gives credit: to the account of `token`, or to a new account whose token is returned
   * (give it to the caller; only its hash is kept). Idempotent by `ref`: the same `ref` and
   * amount again moves nothing and returns the first grant's account with `replayed: true`
   * (without a token: it was shown once); the same `ref` with another amount or account is
   * an `invalid_request`.
   *
   * @example
   * const { token } = await paywall.credits.grant({ amount: 5, ref: 'welcome-bonus:alice' })
   */
  grant(input: { amount: Price; token?: string; ref?: string; note?: string }): Promise<{
    /** The new account's token: only when this call opened the account. */
    token?: string
    /** The account credited. */
    account: string
    /** Dollars available afterwards. */
    balance: string
    /** This `ref` was granted before: nothing moved. */
    replayed: boolean
  }>
  /** The balance of a token's account, in dollars; `undefined` for an unknown token. */
  balance(token: string): Promise<{ available: string; reserved: string } | undefined>
  /** Revokes a token (a leak): it opens nothing any more; `false` for an unknown token. */
  revoke(token: string): Promise<boolean>
}

/** The `paywall.credits` of a paywall whose credit is `credits` (in `decimals`). */
export function operatorCredits(credits: ResolvedCredits, decimals: number): PaywallCredits {
  const { service } = credits
  const usd = (n: bigint) => formatMoney(n, decimals)
  return {
    async grant({ amount, token, ref, note }) {
      const atomic = parseMoney(dollars(amount), { decimals, name: 'amount' })
      checkGrant(atomic, decimals)
      let account = token ? await service.accountFor(token) : undefined
      if (token && !account) throw new X402Error('invalid_request', { message: 'this credit token is not known here' })
      // Without a token, a repeat of a ref must reach the first grant's account, not open a
      // second one (whose grant the ref would then refuse).
      const earlier = ref !== undefined ? await service.grantOf(ref) : undefined
      if (earlier && (earlier.amount !== atomic || (account !== undefined && earlier.account !== account))) {
        throw new X402Error('invalid_request', {
          message: `ref \`${ref}\` was already used for a grant of $${usd(earlier.amount)}${account !== undefined && earlier.account !== account ? ' to another account' : ''}: nothing was granted. Repeat the first grant exactly (same amount${token ? ' and token' : ''}), or pass a new ref`,
          details: { ref },
        })
      }
      if (earlier) {
        const { available } = await service.balance(earlier.account)
        return { account: earlier.account, balance: usd(available), replayed: true }
      }
      let issued: string | undefined
      if (!account) ({ account, token: issued } = await service.open())
      const balance = await service.grant(account, atomic, ref ?? `grant_${randomUUID()}`, note)
      return { ...(issued ? { token: issued } : {}), account, balance: usd(balance), replayed: false }
    },
    revoke: (token) => service.revoke(token),
    async balance(token) {
      const account = await service.accountFor(token)
      if (!account) return undefined
      const { available, reserved } = await service.balance(account)
      return { available: usd(available), reserved: usd(reserved) }
    },
  }
}
