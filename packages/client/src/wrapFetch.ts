import {
  checkOptions,
  decodeHeader,
  encodeHeader,
  headers,
  PaymentRequiredSchema,
  parseMoney,
  type SiwxExtension,
  signSiwx,
  siwxExtensionKey,
  siwxHeader,
  X402Error,
} from '@402x/core'
import { privateKeyToAddress } from 'viem/accounts'
import { type Budget, type BudgetTracker, createBudgetTracker } from './budget.js'
import { createCreditBook } from './createCreditBook.js'
import { createPayer, type PayAttempt, refusalOf } from './createPayer.js'
import { createTopUps } from './createTopUps.js'
import { creditHeaders, creditOfferOf, creditReceiptOf, creditTokenOf } from './creditHeaders.js'
import { followRedirects } from './followRedirects.js'
import { wrapFetchRules } from './optionRules.js'
import { PaymentFailedError } from './paymentFailedError.js'
import { privateKeyOf } from './privateKeyOf.js'
import type { CreditState, Receipt } from './types.js'
import { isEventStream, watchCreditStream } from './watchCreditStream.js'

/** Prepaid credit: buy it from sellers that sell it, and spend it with a bearer token. */
export type CreditsOptions = {
  /**
   * Dollars of credit to buy at a time. A top-up is a payment like any other: the budget
   * must allow it (`maxPerRequest` included). When it is below a request's price, that
   * request is paid exactly instead.
   */
  topUp: number | string
  /**
   * Also top up when the known balance at an origin falls below this many dollars (read from
   * each response's `X-402x-Receipt`, or a metered stream's final `x402-receipt` event as the
   * stream is read). That top-up runs in the background: the response is returned at once, a
   * failure is ignored (a later 402 tops up, or pays, as usual), and the next request to that
   * origin waits for it. At most `topUp`.
   * @default 0 (top up only when a 402 says the balance is too low, or there is no token yet)
   */
  when?: number | string
  /** Tokens from before, by origin: `{ 'https://api.example.com': 'x402c_…' }`. */
  tokens?: Record<string, string>
  /** Called with each new token (to persist it). What it throws is ignored. */
  onToken?: (origin: string, token: string) => void
}

export type WrapFetchOptions = {
  /** The payer's private key (0x…). */
  wallet: string | { privateKey: string }
  budget?: Budget
  /**
   * Assets it may pay with, besides USDC on the known networks: `{ network, asset }`.
   * Amounts are read as 6-decimal dollars, so only add dollar stablecoins.
   */
  allowedAssets?: { network: string; asset: string }[]
  /** Called with each receipt. */
  onReceipt?: (receipt: Receipt) => void
  /** Shares one budget between several clients. */
  tracker?: BudgetTracker
  /**
   * Answer a 402's `sign-in-with-x` challenge (prove the wallet, no payment) before paying:
   * free tiers per payer and volume prices need it. @default true
   */
  signIn?: boolean
  /**
   * Prepaid credit (402x sellers that advertise `402x-credits` in their 402s). With a policy,
   * a 402 is answered by buying `topUp` dollars of credit at that origin (when the request had
   * no token, or its balance was too low) and retrying once with `Authorization: Bearer
   * <token>`: one payment on chain for many requests. A request with its own `Authorization`
   * header is left alone, and a token is only ever sent to the origin that issued it.
   *
   * A metered stream (`text/event-stream`) ends with its receipt as an `x402-receipt` event
   * instead of a header: it is read as the body passes through to the caller, byte for byte and
   * unbuffered, and updates the balance when it arrives (see `streamReceiptOf`).
   *
   * Without a policy, tokens given by servers (the unused remainder of a metered payment)
   * and `tokens` are still kept and spent, but credit is never bought. `false` turns credit
   * off: no token is sent or kept.
   *
   * @default undefined (spend tokens received, never buy credit)
   * @example
   * const pay = wrapFetch(fetch, {
   *   wallet: process.env.X402_PRIVATE_KEY,
   *   budget: { maxPerRequest: 1, maxTotal: 10 },
   *   credits: { topUp: 1, when: 0.05, onToken: (origin, token) => save(origin, token) },
   * })
   * await pay('https://api.example.com/chat') // buys $1 of credit, then pays with it
   * pay.credits // { 'https://api.example.com': { token: 'x402c_…', balance: '0.99', topUp: '…' } }
   */
  credits?: CreditsOptions | false
}

export type PayingFetch = typeof fetch & {
  /** Every payment made, top-ups included, oldest first. */
  receipts: Receipt[]
  tracker: BudgetTracker
  /** Prepaid credit per origin: token, last known balance (dollars), where to buy more. */
  readonly credits: CreditState
}

/** What this client's request carried, per answer: its token, and the top-ups done before it. */
type Sent = { token: string | undefined; generation: number }

/**
 * Wraps `fetch` so that a 402 is paid (x402 v2, or v1 from the body) within a budget, and
 * the request retried once with the payment. With `credits`, it buys prepaid credit instead
 * and spends it with a bearer token.
 *
 * @example
 * const pay = wrapFetch(fetch, { wallet: process.env.X402_PRIVATE_KEY, budget: { maxPerRequest: 0.05 } })
 * const res = await pay('https://api.example.com/premium')
 */
export function wrapFetch(base: typeof fetch, options: WrapFetchOptions): PayingFetch {
  checkOptions(options, wrapFetchRules, 'wrapFetch()')
  const privateKey = privateKeyOf(options.wallet)
  const from = privateKeyToAddress(privateKey as `0x${string}`)
  const tracker = options.tracker ?? createBudgetTracker(options.budget)
  const receipts: Receipt[] = []
  const payer = createPayer({
    privateKey,
    from,
    tracker,
    receipts,
    ...(options.allowedAssets ? { allowedAssets: options.allowedAssets } : {}),
    ...(options.onReceipt ? { onReceipt: options.onReceipt } : {}),
  })
  const policy = options.credits || undefined
  const book =
    options.credits === false
      ? undefined
      : createCreditBook({
          ...(policy?.tokens ? { tokens: policy.tokens } : {}),
          ...(policy?.onToken ? { onToken: policy.onToken } : {}),
        })
  const topUpAmount = policy && parseMoney(policy.topUp, { name: 'credits.topUp' })
  const lowMark = policy && parseMoney(policy.when ?? 0, { name: 'credits.when' })
  if (topUpAmount !== undefined && lowMark !== undefined && (topUpAmount === 0n || lowMark > topUpAmount)) {
    throw new X402Error('invalid_config', {
      message: `credits.topUp must be above 0 and at least credits.when (got topUp ${policy?.topUp}, when ${policy?.when}): raise topUp or lower when`,
    })
  }
  const topUps = book && topUpAmount ? createTopUps({ base, book, payer, amount: topUpAmount }) : undefined
  // Origins whose background top-up failed: not retried in the background until one succeeds.
  const stalled = new Set<string>()

  /** Tops up in the background when a receipt put the balance under `when`. */
  const keepTopped = (origin: string) => {
    const balance = book?.balance(origin)
    const offer = book?.offer(origin)
    if (!topUps || !offer || !book?.token(origin) || balance === undefined || lowMark === undefined) return
    if (balance >= lowMark || stalled.has(origin) || topUps.pending(origin)) return
    const amount = topUps.amountFor(offer)
    if (amount === undefined) return
    topUps.topUp(origin, offer, amount).catch(() => stalled.add(origin))
  }

  /** A SIGN-IN-WITH-X header for a 402 that asks for one, bound to the origin asked. */
  const signInFor = (response: Response, requested: string): string | undefined => {
    const value = response.headers.get(headers.paymentRequired)
    const decoded = value ? decodeHeader(value, PaymentRequiredSchema) : undefined
    const extension = decoded?.ok
      ? (decoded.value.extensions?.[siwxExtensionKey] as SiwxExtension | undefined)
      : undefined
    const chain = extension?.supportedChains?.find((c) => c.type === 'eip191' && c.chainId.startsWith('eip155:'))
    if (!extension?.info || !chain) return undefined
    const origin = new URL(response.url || requested).origin
    if (new URL(extension.info.uri).origin !== origin || extension.info.domain !== new URL(origin).host)
      return undefined
    return encodeHeader(signSiwx({ info: extension.info, chainId: chain.chainId, privateKey, address: from }))
  }

  const paying = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init)
    // Keep the body so the paid retry can send it again.
    const body = request.body ? await request.arrayBuffer() : undefined
    // The caller's own credential wins: then this client neither sends nor buys credit.
    const own = request.headers.has('authorization')
    const tokenAt = (url: string) => (own ? undefined : book?.token(new URL(url).origin))
    const sent = new WeakMap<Response, Sent>()
    const send = async (url: string, extra?: Record<string, string>, retried = false): Promise<Response> => {
      const h = new Headers(request.headers)
      for (const [k, v] of Object.entries(extra ?? {})) h.set(k, v)
      // A payment goes only where it was asked for: never follow a redirect with it.
      const redirect = extra ? 'manual' : request.redirect
      const origin = new URL(url).origin
      // Let a top-up under way finish first: this request then spends the new credit.
      await topUps?.pending(origin)?.catch(() => undefined)
      const generation = topUps?.generation(origin) ?? 0
      let token: string | undefined
      const response = tokenAt(url)
        ? // Redirects followed by hand, so that each hop carries its own origin's token only.
          await followRedirects(base, url, {
            method: request.method,
            headers: h,
            ...(body ? { body } : {}),
            signal: request.signal,
            redirect,
            authorization: (hop) => {
              token = tokenAt(hop)
              return token && `Bearer ${token}`
            },
          })
        : await base(url, {
            method: request.method,
            headers: h,
            ...(body ? { body } : {}),
            redirect,
            signal: request.signal,
          })
      if (!book || own) return response
      const answered = new URL(response.url || url).origin
      if (token && response.status === 401 && !retried && (await errorOf(response)) === 'invalid_token') {
        // The server no longer knows the token: drop it and ask again without it.
        book.forget(answered, token)
        return send(url, extra, true)
      }
      book.observe(answered, response, token)
      sent.set(response, { token, generation })
      return response
    }
    const attempt: PayAttempt = { url: request.url, method: request.method, send }

    /** Answers a 402 with credit: buy some if needed, and retry once with the token. */
    const withCredit = async (first: Response): Promise<Response | undefined> => {
      const origin = new URL(first.url || request.url).origin
      const offer = book?.offer(origin)
      if (!topUps || !book || own || !offer || !creditOfferOf(first)) return undefined
      const carried = sent.get(first)
      if (carried?.token && (await errorOf(first)) !== 'insufficient_credit') return undefined
      const quote = await payer.quote(first, request.url).catch(() => undefined)
      const amount = topUps.amountFor(offer)
      if (!quote || amount === undefined || amount < BigInt(quote.options[0].requirements.amount)) return undefined
      // A top-up finished since this request was sent: its credit may be enough already.
      if (!carried || topUps.generation(origin) === carried.generation) {
        try {
          await topUps.topUp(origin, offer, amount)
        } catch (error) {
          // Credit is not for sale after all (and nothing was paid): pay the request itself.
          if (error instanceof PaymentFailedError && error.details.nothingPaid) return undefined
          throw error
        }
      }
      if (!book.token(origin)) return undefined
      stalled.delete(origin)
      return send(first.url || request.url)
    }

    let first = await send(request.url)
    if (first.status === 402) {
      // The server wants to know who is asking (a free tier per payer, or a payer's own
      // price): sign in (SIGN-IN-WITH-X, no payment) first, and pay only if it still says 402.
      const proof = options.signIn === false ? undefined : signInFor(first, request.url)
      if (proof) first = await send(first.url || request.url, { [siwxHeader]: proof })
    }
    if (first.status === 402) first = (await withCredit(first)) ?? first
    let answer = first
    if (first.status === 402) {
      answer = await payer.pay(first, attempt)
      // The price changed between the quote and the payment (the hour turned, say): nothing
      // was charged; pay the new price once.
      if (answer.status === 402 && refusalOf(answer) === 'price_changed') answer = await payer.pay(answer, attempt)
    }
    const origin = new URL(answer.url || request.url).origin
    if (creditReceiptOf(answer)) keepTopped(origin)
    // A metered stream says what it cost in its last event: read it as the caller reads.
    if (!book || own || !isEventStream(answer)) return answer
    if (!book.token(origin) && !answer.headers.has(creditHeaders.reserved)) return answer
    const mine = creditTokenOf(answer) ?? sent.get(answer)?.token
    return watchCreditStream(answer, (receipt) => {
      book.applyReceipt(origin, receipt, mine)
      keepTopped(origin)
    })
  }
  const out = Object.defineProperty(Object.assign(paying as typeof fetch, { receipts, tracker }), 'credits', {
    get: () => book?.snapshot() ?? {},
    enumerable: true,
  }) as PayingFetch
  // For the paying WebSocket (payingWebSocket.ts): the same payer, budget and credit.
  Object.defineProperty(out, payingParts, { value: { base, payer, book, topUpAmount } satisfies PayingParts })
  return out
}

/** The parts of a paying fetch that other transports share (the WebSocket client). */
export const payingParts = Symbol('402x.payingParts')
export type PayingParts = {
  base: typeof fetch
  payer: ReturnType<typeof createPayer>
  book: ReturnType<typeof createCreditBook> | undefined
  /** The credit policy's `topUp`, in atomic units. */
  topUpAmount: bigint | undefined
}

/** The error code of a JSON answer (`{ error }`), or a 402's refusal reason. */
async function errorOf(response: Response): Promise<string | undefined> {
  const refusal = refusalOf(response)
  if (refusal) return refusal
  const body = (await response
    .clone()
    .json()
    .catch(() => undefined)) as { error?: unknown; reason?: unknown } | undefined
  const code = body?.reason ?? body?.error
  return typeof code === 'string' ? code : undefined
}

/** The receipt a paid response carries, if it was paid. */
export function receiptOf(response: Response): Receipt | undefined {
  return (response as Response & { receipt?: Receipt }).receipt
}
