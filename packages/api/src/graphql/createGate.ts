import { checkOptions, formatMoney } from '@402x/core'
import type { DocumentNode, GraphQLSchema } from 'graphql'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions, Proceed, RequestHead } from '../paywall/types.js'
import { checkPricing } from './checkPricing.js'
import { fullyErrored, type GraphQLResult } from './fullyErrored.js'
import { graphqlRules, type X402GraphQLOptions } from './options.js'
import { type OperationPrice, priceOperation } from './priceOperation.js'
import { type Refusal, refusal, refusalOf } from './refusal.js'
import { atomic, type ResolvedPricing, resolvePricing } from './resolvePricing.js'

/** What the paywall decided about one priced operation, before it runs. */
export type Opened =
  | { type: 'free' }
  | { type: 'refused'; refusal: Refusal }
  | { type: 'proceed'; decision: Proceed; price: OperationPrice }

/** After it ran: the headers to add to the answer (a receipt), or a refusal to send instead. */
export type Closed = { headers: [string, string][] } | { refusal: Refusal }

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
  // A document's price, when it reads no variable, is computed once (Apollo and Yoga cache
  // parsed documents, so the same object comes back).
  const cache = new WeakMap<DocumentNode, Map<string, OperationPrice>>()
  const usd = (amount: bigint) => formatMoney(amount, decimals)

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
    const known = cache.get(document)?.get(key)
    if (known) return known
    const priced = priceOperation({ schema, document, operationName, variables, pricing })
    if (!priced) return undefined
    const { cacheable, ...price } = priced
    if (cacheable) {
      const byName = cache.get(document) ?? new Map<string, OperationPrice>()
      cache.set(document, byName.set(key, price))
    }
    return price
  }

  const open = async (request: Request | RequestHead, price: OperationPrice): Promise<Opened> => {
    if (price.amount === 0n) return free
    const dollars = usd(price.amount)
    if (most !== undefined && price.amount > most) {
      return refused(
        refusal(
          'MAX_PRICE_EXCEEDED',
          'max_price_exceeded',
          `this operation costs $${dollars}, above the most one operation may cost here ($${usd(most)}): nothing was run or charged; select fewer priced fields or ask for fewer items (smaller first/limit)`,
          dollars,
        ),
      )
    }
    if (price.kind === 'subscription') {
      return refused(
        refusal(
          'SUBSCRIPTION_NOT_PRICED',
          'subscription_not_supported',
          `this subscription selects priced fields ($${dollars}), and subscriptions cannot be paid per operation: nothing was run or charged; run it as a query, or price the stream with x402WebSocket`,
          dollars,
        ),
      )
    }
    const url = (request as RequestHead).parsedUrl ?? new URL(request.url)
    const route = paywall.match(request.method, url.pathname)
    const decision = await paywall.handle(request, route, { req: { [priceKey]: dollars }, creditsServed: false })
    if (decision.type === 'skip') return free
    if (decision.type === 'respond') return refused(await refusalOf(decision.response, dollars))
    return { type: 'proceed', decision, price }
  }

  /**
   * After execution: an operation that errored entirely (no data, or every priced root field
   * null with an error) is released, charged nothing; any other is settled, partial errors
   * included. A settlement that fails is a refusal: its answer is not sent.
   */
  const close = async (opened: Extract<Opened, { type: 'proceed' }>, result: GraphQLResult): Promise<Closed> => {
    const { decision, price } = opened
    if (fullyErrored(price.pricedRoots, result)) {
      await decision.finish(new Response(null, { status: 500 }))
      return { headers: [] }
    }
    if (decision.finishStatus) {
      const outcome = await decision.finishStatus(200)
      if (outcome instanceof Response) return { refusal: await refusalOf(outcome, usd(price.amount)) }
      return { headers: outcome?.headers ?? [] }
    }
    const answer = await decision.finish(new Response(null, { status: 200 }))
    if (answer.status >= 400) return { refusal: await refusalOf(answer, usd(price.amount)) }
    return { headers: [...answer.headers] }
  }

  return { paywall, pricing, check, priceOf, open, close, path: path ?? '/graphql' }
}

const free: Opened = { type: 'free' }
const refused = (refusal: Refusal): Opened => ({ type: 'refused', refusal })
