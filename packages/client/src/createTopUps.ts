import { formatMoney, parseMoney } from '@402x/core'
import { z } from 'zod'
import type { CreditBook } from './createCreditBook.js'
import type { Payer } from './createPayer.js'
import { type CreditOffer, creditTokenOf, isCreditToken } from './creditHeaders.js'
import { PaymentFailedError } from './paymentFailedError.js'

export type TopUpsOptions = {
  base: typeof fetch
  book: CreditBook
  payer: Payer
  /** What to buy each time, in atomic units (6 decimals). */
  amount: bigint
}

const AnswerSchema = z.looseObject({
  token: z.string().optional(),
  balance: z.looseObject({ available: z.string() }).optional(),
})

/**
 * Buys prepaid credit: `POST <topUp>?amount=<dollars>`, paid like any 402 (same budget,
 * a receipt marked `topUp`), with the origin's bearer token when there is one (that account is
 * topped up) or without (a new account, whose token is kept). One purchase at a time per
 * origin: callers that ask while one is under way share it.
 *
 * @example
 * const topUps = createTopUps({ base: fetch, book, payer, amount: 1_000_000n })
 * await topUps.topUp('https://api.example.com', offer, 1_000_000n)
 */
export function createTopUps(options: TopUpsOptions) {
  const { base, book, payer } = options
  const inFlight = new Map<string, Promise<void>>()
  const generations = new Map<string, number>()

  const buy = async (origin: string, offer: CreditOffer, amount: bigint): Promise<void> => {
    const url = new URL(offer.topUp)
    url.searchParams.set('amount', formatMoney(amount))
    const token = book.token(origin)
    const send = (to: string, extra: Record<string, string> = {}) =>
      base(to, {
        method: 'POST',
        headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra },
        // The token and the payment go to the top-up URL only: never follow a redirect.
        redirect: 'manual',
      })
    const first = await send(url.href)
    if (first.status === 401 && token) {
      // The server no longer knows the token (its ledger was reset, say): open a new account.
      book.forget(origin, token)
      return buy(origin, offer, amount)
    }
    if (first.status !== 402) {
      throw new PaymentFailedError(
        `buying credit at ${url.href} answered HTTP ${first.status} instead of 402 (the price of the credit): nothing was paid`,
        { url: url.href, status: first.status, nothingPaid: true },
      )
    }
    const quote = await payer.quote(first, url.href).catch(() => undefined)
    if (!quote || BigInt(quote.options[0].requirements.amount) > amount) {
      throw new PaymentFailedError(
        `buying $${formatMoney(amount)} of credit at ${url.href}: its 402 asks for ${quote ? `$${formatMoney(BigInt(quote.options[0].requirements.amount))}` : 'nothing this client can pay'}, so nothing was paid`,
        { url: url.href, nothingPaid: true },
      )
    }
    const paid = await payer.pay(first, { url: url.href, method: 'POST', send, topUp: true })
    const answer = AnswerSchema.safeParse(await paid.json().catch(() => undefined))
    if (!paid.ok) {
      throw new PaymentFailedError(
        `buying $${formatMoney(amount)} of credit at ${url.href} failed: HTTP ${paid.status}`,
        {
          url: url.href,
          status: paid.status,
          body: answer.success ? answer.data : undefined,
        },
      )
    }
    const bodyToken = answer.data?.token
    const issued = creditTokenOf(paid) ?? (bodyToken && isCreditToken(bodyToken) ? bodyToken : undefined)
    if (issued) book.remember(origin, issued)
    else if (!token) {
      throw new PaymentFailedError(
        `${url.href} took the payment for credit but gave no token (X-402x-Credit-Token): ask the seller, with the receipt's transaction`,
        { url: url.href, transaction: (paid as Response & { receipt?: { transaction: string } }).receipt?.transaction },
      )
    }
    const available = answer.data?.balance?.available
    if (available !== undefined) {
      try {
        book.setBalance(origin, parseMoney(available, { rounding: 'down' }))
      } catch {
        // An unreadable balance: the next receipt tells.
      }
    }
    generations.set(origin, (generations.get(origin) ?? 0) + 1)
  }

  return {
    /** The policy's amount within the offer's bounds, or `undefined` when the offer's minimum is above it. */
    amountFor(offer: CreditOffer): bigint | undefined {
      const amount = offer.maxTopUp !== undefined && options.amount > offer.maxTopUp ? offer.maxTopUp : options.amount
      return amount > 0n && (offer.minTopUp === undefined || amount >= offer.minTopUp) ? amount : undefined
    },
    /** How many top-ups of `origin` have completed: a request sent before the last one may retry without buying. */
    generation: (origin: string) => generations.get(origin) ?? 0,
    /** The top-up of `origin` under way, if any. */
    pending: (origin: string) => inFlight.get(origin),
    topUp(origin: string, offer: CreditOffer, amount: bigint): Promise<void> {
      const pending = inFlight.get(origin)
      if (pending) return pending
      const run = buy(origin, offer, amount).finally(() => inFlight.delete(origin))
      inFlight.set(origin, run)
      return run
    },
  }
}

export type TopUps = ReturnType<typeof createTopUps>
