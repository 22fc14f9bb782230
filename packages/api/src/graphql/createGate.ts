import { checkOptions, formatMoney } from '@402x/core'
import type { DocumentNode, GraphQLSchema } from 'graphql'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions, Proceed, RequestHead } from '../paywall/types.js'
import { checkPricing } from './checkPricing.js'
import { creditOperations, type OperationRequest } from './creditOperation.js'
import { fullyErrored, type GraphQLResult } from './fullyErrored.js'
import { graphqlRules, type X402GraphQLOptions } from './options.js'
import { createPriceCache } from './priceCache.js'
import { type OperationPrice, priceOperation } from './priceOperation.js'
import { type Priced, type Refusal, refusal, refusalOf } from './refusal.js'
import { atomic, type ResolvedPricing, resolvePricing } from './resolvePricing.js'
import { unserved } from './unserved.js'

/**
 * An operation paid for and about to run: closed once after it ran, or released when it
 * ended with no result to judge (its execution threw, a plugin stopped it).
 */
export type Held = {
  type: 'proceed'
  price: OperationPrice
  /** Settles (served) or releases (errored entirely) from its result; a refusal to send instead when the settlement failed. */
  close(result: GraphQLResult): Promise<Closed>
  /** Releases it, charging nothing, with the reason code recorded; nothing once closed. */
  release(reason: string): Promise<void>
}

/** What the paywall decided about one priced operation, before it runs. */
export type Opened = { type: 'free' } | { type: 'refused'; refusal: Refusal } | Held

/**
 * After it ran: the headers to add to the answer (a receipt) and, in a batch, what it cost
 * (`extensions.x402` of its result); or a refusal to send instead.
 */
export type Closed = { headers: [string, string][]; extensions?: Record<string, unknown> } | { refusal: Refusal }

/** What the paywall said about a priced request: free after all, refused, or paid and to be finished. */
export type Asked = { type: 'free' } | { type: 'refused'; refusal: Refusal } | { type: 'decision'; decision: Proceed }

/** The key under which the price rides to the paywall's price function, on `context.req`. */
const priceKey = Symbol('x402GraphQLPrice')

/**
 * The framework-neutral part of `x402GraphQL`: prices operations, asks one paywall (the same
 * core as REST: facilitator, ledger, credit) about each, and settles or releases after it ran.
 * The Apollo and Yoga hooks only translate.
 */
export type GraphQLGate = ReturnType<typeof createGate>

export function createGate(options: X402GraphQLOptions) {
  checkOptions(options, graphqlRules, 'x402GraphQL()')
  const { pricing: table, multipliers, maxPrice, path, ...rest } = options
  const paywall: Paywall = createPaywall({
    ...rest,
    // The price is computed per operation (priceOperation) and handed over with the request.
    price: (req: { [priceKey]: string }) => req[priceKey],
    discovery: false,
  } as PaywallOptions)
  // Closed by whichever comes first: Apollo's stop, Yoga's dispose, or the seller.
  const closePaywall = paywall.close
  let closing: Promise<void> | undefined
  paywall.close = () => {
    closing ??= closePaywall()
    return closing
  }
  const decimals = paywall.config.asset.decimals
  let pricing: ResolvedPricing
  let most: bigint | undefined
  try {
    pricing = resolvePricing(table, multipliers ?? [], decimals)
    most = maxPrice === undefined ? undefined : atomic(maxPrice, decimals, 'maxPrice')
  } catch (error) {
    void paywall.close()
    throw error
  }
  const checked = new WeakSet<GraphQLSchema>()
  const cache = createPriceCache()
  const credit = creditOperations(paywall)
  const usd = (amount: bigint) => formatMoney(amount, decimals)
  // An operation's price in dollars, once per price (prices are cached with their document).
  const shown = new WeakMap<OperationPrice, string>()
  const dollarsOf = (price: OperationPrice) => {
    let dollars = shown.get(price)
    if (dollars === undefined) {
      dollars = usd(price.amount)
      shown.set(price, dollars)
    }
    return dollars
  }

  const check = (schema: GraphQLSchema) => {
    if (checked.has(schema)) return
    checkPricing(pricing, schema)
    checked.add(schema)
  }

  const priceOf = (
    schema: GraphQLSchema,
    document: DocumentNode,
    operationName: string | null | undefined,
    variables: Readonly<Record<string, unknown>> | null | undefined,
  ): OperationPrice | undefined => {
    check(schema)
    const key = operationName ?? ''
    const known = cache.get(document, key, variables)
    if (known) return known
    const priced = priceOperation({ schema, document, operationName, variables, pricing })
    if (!priced) return undefined
    const { variables: read, ...price } = priced
    return cache.set(document, key, variables, read, price)
  }

  /** What stops one operation before the paywall is asked: a bad multiplier, too dear, or a priced subscription. */
  const limits = (price: OperationPrice): Refusal | undefined => {
    if (price.invalid !== undefined) {
      return refusal(
        'BAD_USER_INPUT',
        'invalid_multiplier',
        `this operation cannot be priced: ${price.invalid}; nothing was run or charged`,
        dollarsOf(price),
      )
    }
    if (most === undefined && price.kind !== 'subscription') return undefined
    const dollars = dollarsOf(price)
    if (most !== undefined && price.amount > most) {
      return refusal(
        'MAX_PRICE_EXCEEDED',
        'max_price_exceeded',
        `this operation costs $${dollars}, above the most one operation may cost here ($${usd(most)}): nothing was run or charged; select fewer priced fields or ask for fewer items (smaller first/limit)`,
        dollars,
      )
    }
    if (price.kind === 'subscription') {
      return refusal(
        'SUBSCRIPTION_NOT_PRICED',
        'subscription_not_supported',
        `this subscription selects priced fields ($${dollars}), and subscriptions cannot be paid per operation: nothing was run or charged; run it as a query, or price the stream with x402WebSocket`,
        dollars,
      )
    }
    return undefined
  }

  /** Asks the paywall about one priced request of `amount` (an operation, or a batch's sum). */
  const ask = async (request: Request | RequestHead, amount: bigint, what: Priced = 'operation'): Promise<Asked> => {
    const dollars = usd(amount)
    const url = (request as RequestHead).parsedUrl ?? new URL(request.url)
    const route = paywall.match(request.method, url.pathname)
    const decision = await paywall.handle(request, route, { req: { [priceKey]: dollars }, creditsServed: false })
    if (decision.type === 'skip') return free
    if (decision.type === 'respond') return refused(await refusalOf(decision.response, dollars, what))
    return { type: 'decision', decision }
  }

  /**
   * What the paywall says about one priced operation, before it runs: paid from credit on
   * the fast path where it can be (creditOperation.ts), else asked through the full pipeline.
   * Without a promise where nothing waits (a refusal made here, a hold from credit this
   * process knows), so that a server whose pipeline runs synchronously (Yoga) stays so until
   * the charge.
   */
  const open = (request: OperationRequest, price: OperationPrice): Opened | Promise<Opened> => {
    if (price.amount === 0n) return free
    const stop = limits(price)
    if (stop) return refused(stop)
    const opening = credit?.(request, paywall.match(request.method, request.path), price, dollarsOf(price))
    if (opening instanceof Promise) return opening.then((credited) => credited ?? pay(request, price))
    return opening ?? pay(request, price)
  }

  /** The paywall's full pipeline for one operation: x402, API keys, limits, what credit cannot decide. */
  const pay = async (request: OperationRequest, price: OperationPrice): Promise<Opened> => {
    const asked = await ask(request, price.amount)
    return asked.type === 'decision' ? held(asked.decision, price) : asked
  }

  /** One operation's decision, closed or released once. */
  const held = (decision: Proceed, price: OperationPrice): Held => {
    let done = false
    return {
      type: 'proceed',
      price,
      close: (result) => {
        if (done) return Promise.resolve({ headers: [] })
        done = true
        return close(decision, price, result)
      },
      release: async (reason) => {
        if (done) return
        done = true
        await decision.finish(unserved(reason))
      },
    }
  }

  /**
   * After execution: an operation that errored entirely (no data, or every priced root field
   * null with an error) is released, charged nothing; any other is settled, partial errors
   * included. A settlement that fails is a refusal: its answer is not sent.
   */
  const close = async (decision: Proceed, price: OperationPrice, result: GraphQLResult): Promise<Closed> => {
    if (fullyErrored(price.pricedRoots, result)) {
      await decision.finish(unserved('operation_failed'))
      return { headers: [] }
    }
    return served(decision, price.amount)
  }

  /** Settles a decision whose operations were served: the receipt headers, or a refusal. */
  const served = async (decision: Proceed, amount: bigint): Promise<Closed> => {
    if (decision.finishStatus) {
      const outcome = await decision.finishStatus(200)
      if (outcome instanceof Response) return { refusal: await refusalOf(outcome, usd(amount)) }
      return { headers: outcome?.headers ?? [] }
    }
    const answer = await decision.finish(new Response(null, { status: 200 }))
    if (answer.status >= 400) return { refusal: await refusalOf(answer, usd(amount)) }
    return { headers: [...answer.headers] }
  }

  return { paywall, pricing, check, priceOf, open, limits, ask, held, served, usd, most, path: path ?? '/graphql' }
}

const free = { type: 'free' } as const
const refused = (refusal: Refusal) => ({ type: 'refused', refusal }) as const
