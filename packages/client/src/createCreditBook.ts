import { formatMoney, X402Error } from '@402x/core'
import {
  type CreditOffer,
  creditOfferOf,
  creditReceiptOf,
  creditTokenOf,
  isCreditToken,
  toMicros,
} from './creditHeaders.js'
import type { CreditReceipt, CreditState } from './types.js'

export type CreditBookOptions = {
  /** Tokens known from before, by origin (or any URL of it). */
  tokens?: Record<string, string>
  /** Called with each new token. What it throws is ignored: the token is kept in memory anyway. */
  onToken?: (origin: string, token: string) => void
}

type Account = { token?: string; balance?: bigint; offer?: CreditOffer }

/**
 * The client's prepaid credit, per origin: its bearer token, its last known balance (6-decimal
 * atomic units) and where more is bought. Only an origin's own answers change its account.
 *
 * @example
 * const book = createCreditBook({ tokens: { 'https://api.example.com': 'x402c_…' } })
 * book.token('https://api.example.com') // 'x402c_…'
 */
export function createCreditBook(options: CreditBookOptions = {}) {
  const accounts = new Map<string, Account>()
  const account = (origin: string) => {
    const found = accounts.get(origin) ?? {}
    accounts.set(origin, found)
    return found
  }
  for (const [where, token] of Object.entries(options.tokens ?? {})) {
    const origin = URL.canParse(where) ? new URL(where).origin : 'null'
    if (origin === 'null' || !isCreditToken(token)) {
      throw new X402Error('invalid_config', {
        message: `credits.tokens: ${JSON.stringify(where)} must map an origin (https://api.example.com) to a bearer token (x402c_…)`,
      })
    }
    account(origin).token = token
  }

  const remember = (origin: string, token: string) => {
    const found = account(origin)
    if (found.token === token) return
    found.token = token
    delete found.balance
    try {
      options.onToken?.(origin, token)
    } catch {
      // Persisting is the caller's concern; the token is kept in memory, and the response
      // (perhaps paid for) must still reach the caller.
    }
  }

  /**
   * Takes the balance a receipt gives (a header, or a stream's final event) if it belongs to
   * `token`, the token the request carried or the one its answer opened, and still in use.
   */
  const applyReceipt = (origin: string, receipt: CreditReceipt, token: string | undefined) => {
    if (token && accounts.get(origin)?.token === token) {
      account(origin).balance = toMicros(receipt.balance, receipt.decimals)
    }
  }

  return {
    token: (origin: string) => accounts.get(origin)?.token,
    balance: (origin: string) => accounts.get(origin)?.balance,
    offer: (origin: string) => accounts.get(origin)?.offer,
    remember,
    /** Drops a token the origin no longer knows (401 `invalid_token`). */
    forget(origin: string, token: string) {
      const found = accounts.get(origin)
      if (found?.token !== token) return
      delete found.token
      delete found.balance
    },
    setBalance(origin: string, micros: bigint) {
      account(origin).balance = micros
    },
    applyReceipt,
    /**
     * Reads what an answer from `origin` says about credit: a new token, the balance after
     * the request (`X-402x-Receipt`, or a 402's offer), and where to buy more. `sent` is the
     * token the request carried, if it was this client's.
     */
    observe(origin: string, response: Response, sent: string | undefined) {
      const token = creditTokenOf(response)
      if (token) remember(origin, token)
      // A balance belongs to the token the request carried, or to the account just opened.
      const mine = token ?? sent
      const receipt = creditReceiptOf(response)
      if (receipt) applyReceipt(origin, receipt, mine)
      const offer = creditOfferOf(response)
      // Credit is bought only from the origin that uses it, so the token never goes elsewhere.
      if (offer && new URL(offer.topUp).origin === origin) {
        account(origin).offer = offer
        if (offer.balance !== undefined && mine && accounts.get(origin)?.token === mine) {
          account(origin).balance = offer.balance
        }
      }
    },
    /** A copy of every account, balances in dollars. */
    snapshot(): CreditState {
      const state: CreditState = {}
      for (const [origin, a] of accounts) {
        state[origin] = {
          ...(a.token ? { token: a.token } : {}),
          ...(a.balance === undefined ? {} : { balance: formatMoney(a.balance) }),
          ...(a.offer ? { topUp: a.offer.topUp } : {}),
        }
      }
      return state
    },
  }
}

export type CreditBook = ReturnType<typeof createCreditBook>
