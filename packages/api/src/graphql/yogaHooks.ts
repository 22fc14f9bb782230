import { notAcceptable, yogaAccepts, yogaOffered } from './acceptable.js'
import { type BatchSlot, createBatch } from './createBatch.js'
import type { GraphQLGate, Held, Opened } from './createGate.js'
import type { OperationRequest } from './creditOperation.js'
import type { GraphQLResult } from './fullyErrored.js'
import { formattedError, refusalError } from './loadGraphQL.js'
import type { OperationPrice } from './priceOperation.js'
import { type Refusal, refusal } from './refusal.js'

/** What this plugin reads of envelop's `onExecute`/`onSubscribe` payload (structurally). */
type ExecutePayload = {
  args: {
    schema: Parameters<GraphQLGate['priceOf']>[0]
    document: Parameters<GraphQLGate['priceOf']>[1]
    operationName?: string | null | undefined
    variableValues?: Record<string, unknown> | null | undefined
    contextValue: { request?: Request }
  }
  setResultAndStopExecution(result: unknown): void
}
type ExecuteDonePayload = { result: unknown; setResult(result: unknown): void }
type Result = GraphQLResult & { extensions?: Record<string, unknown> }

/** One operation as it runs: its hold, and its place in a batch. */
type Running = { held?: Held | undefined; slot?: BatchSlot }

const isAsyncIterable = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value

const http = (refusal: Refusal) => ({ status: refusal.status, headers: Object.fromEntries(refusal.headers) })

/**
 * Yoga's `Request` as the gate reads it: the path cut from its URL; the URL parsed once, when
 * something reads it (the full pipeline: it would parse Yoga's `request.url` again), not before.
 */
class YogaRequest implements OperationRequest {
  readonly method: string
  readonly headers: Request['headers']
  readonly url: string
  readonly path: string
  #url: URL | undefined
  constructor(request: Request) {
    this.method = request.method
    this.headers = request.headers
    const url = request.url
    this.url = url
    const slash = url.indexOf('/', url.indexOf('//') + 2)
    const query = url.indexOf('?', slash)
    this.path = slash < 0 ? '/' : url.slice(slash, query < 0 ? undefined : query)
  }

  get parsedUrl(): URL {
    this.#url ??= new URL(this.url)
    return this.#url
  }
}

/** Adds the paywall's headers to an answer's, `Access-Control-Expose-Headers` merged with the server's own. */
const addHeaders = (headers: Headers, added: [string, string][]) => {
  for (const [name, value] of added) {
    const known = name.toLowerCase() === 'access-control-expose-headers' ? headers.get(name) : null
    headers.set(name, known ? `${known}, ${value}` : value)
  }
}

const uncoordinated = refusal(
  'BATCH_NOT_COORDINATED',
  'batch_not_coordinated',
  "this server does not run x402GraphQL's instrumentation (graphql-yoga 5.13 or newer does), so a batch's operations cannot be paid together: nothing was run or charged; send each priced operation in a request of its own",
  '0',
)

/**
 * The hooks GraphQL Yoga runs: price and pay in `onExecute` (a refusal stops execution with a
 * `GraphQLError` carrying its HTTP status and headers), settle or release in `onExecuteDone`,
 * the receipt headers added to the HTTP answer in `onResponse` (a settlement that failed
 * replaces the result, its status in `extensions.http`). Around each operation, `instrumentation.operation` releases a
 * payment that nothing closed (the execution threw, a plugin stopped it): nothing is charged.
 * The operations of a batch (known from the parsed request) are paid together
 * (createBatch); the batch's challenge or receipt goes on its HTTP answer in `onResponse`.
 */
export function yogaHooks(gate: GraphQLGate) {
  const batches = new WeakMap<Request, ReturnType<typeof createBatch>>()
  /** A single operation's receipt headers, for its HTTP answer. */
  const receipts = new WeakMap<Request, [string, string][]>()
  // By the operation's own context in a batch (each has one), else by its request: a single
  // operation's context is the server's, which a runtime may share between requests.
  const running = new WeakMap<object, Running>()
  const stateOf = (context: ExecutePayload['args']['contextValue']) =>
    running.get(context) ?? (context.request && running.get(context.request))

  /** Ends an operation: a payment it still holds is released, charging nothing. */
  const ended = async (state: Running) => {
    await state.held?.release('execution_failed')
    await state.slot?.end('execution_failed')
  }

  const opening = (payload: ExecutePayload): Opened | Promise<Opened> | undefined => {
    const { args } = payload
    const state = stateOf(args.contextValue)
    const price: OperationPrice | undefined = gate.priceOf(
      args.schema,
      args.document,
      args.operationName,
      args.variableValues,
    )
    const priced = price && price.amount > 0n ? price : undefined
    if (!priced && !state?.slot) return undefined
    const request = args.contextValue.request
    if (!request) throw new TypeError('x402GraphQL(): this envelop server puts no `request` in the context to price')
    // Yoga answers 406 in processResult, after onExecuteDone settled: refused here, before any hold.
    const accept = priced ? request.headers.get('accept') : null
    if (priced && !yogaAccepts(accept)) {
      return { type: 'refused', refusal: notAcceptable(accept ?? '', yogaOffered, gate.usd(priced.amount)) }
    }
    const head = priced ? new YogaRequest(request) : undefined
    if (state?.slot) return state.slot.open(head, priced)
    if (batches.has(request)) return Promise.resolve({ type: 'refused', refusal: uncoordinated })
    return gate.open(head as YogaRequest, priced as OperationPrice)
  }

  /** What `onExecute` returns once the paywall decided: nothing, a refusal set as the result, or the settling hook. */
  const decided = (payload: ExecutePayload, state: Running | undefined, opened: Opened) => {
    const request = payload.args.contextValue.request
    if (opened.type === 'free') return undefined
    if (opened.type === 'refused') {
      return refusalError(opened.refusal, http(opened.refusal)).then((error) => {
        payload.setResultAndStopExecution({ errors: [error] })
        return undefined
      })
    }
    if (state) state.held = opened
    return {
      async onExecuteDone({ result, setResult }: ExecuteDonePayload) {
        // An incremental result (@defer, @stream) is charged as served once it started.
        const shown = (isAsyncIterable(result) ? { data: {} } : result) as Result
        const closed = await opened.close(shown)
        if (state) state.held = undefined
        if (isAsyncIterable(result)) return
        if ('refusal' in closed) {
          setResult({ errors: [formattedError(closed.refusal)], extensions: { http: http(closed.refusal) } })
          return
        }
        if (closed.headers.length === 0 && !closed.extensions) return
        // One operation's receipt goes on its HTTP answer in onResponse: cheaper than the
        // result's `extensions.http`, which Yoga copies and strips from every answer.
        if (!closed.extensions && !state?.slot && request) {
          receipts.set(request, closed.headers)
          return
        }
        setResult({
          ...shown,
          extensions: {
            ...shown.extensions,
            ...closed.extensions,
            ...(closed.headers.length ? { http: { headers: Object.fromEntries(closed.headers) } } : {}),
          },
        })
      },
    }
  }

  return {
    /** `yoga.dispose()`: closes the paywall (its ledger, its reconciler). */
    onDispose: () => gate.paywall.close(),
    /** A batch (an array of operations) is known here, before any of them runs. */
    onRequestParse({ request }: { request: Request }) {
      // Yoga batches POST bodies only.
      if (request.method !== 'POST') return undefined
      return {
        onRequestParseDone({ requestParserResult }: { requestParserResult: unknown }) {
          if (Array.isArray(requestParserResult) && requestParserResult.length > 0) {
            batches.set(request, createBatch(gate, requestParserResult.length))
          }
        },
      }
    },
    instrumentation: {
      operation({ context, request }: { context: object; request: Request }, wrapped: () => unknown) {
        const slot = batches.get(request)?.join()
        const state: Running = slot ? { slot } : {}
        running.set(slot ? context : request, state)
        const out = wrapped() as Promise<void> | undefined
        if (typeof out?.then !== 'function') return ended(state)
        return out.then(
          // Closed (the common case): nothing left to end.
          () => (state.held || state.slot ? ended(state) : undefined),
          async (error: unknown) => {
            await ended(state)
            throw error
          },
        )
      },
    },
    onExecute(payload: ExecutePayload) {
      const open = opening(payload)
      if (!open) return undefined
      const state = stateOf(payload.args.contextValue)
      // Held at once (credit this process knows): no promise, Yoga's pipeline stays synchronous.
      if (!(open instanceof Promise)) return decided(payload, state, open)
      return open.then((opened) => decided(payload, state, opened))
    },
    onSubscribe(payload: ExecutePayload) {
      const { args } = payload
      // A subscription of a batch is handled on its own, out of the batch's sum.
      void stateOf(args.contextValue)?.slot?.open(undefined, undefined)
      const price = gate.priceOf(args.schema, args.document, args.operationName, args.variableValues)
      if (!price || price.amount === 0n) return undefined
      const request = args.contextValue.request
      if (!request) throw new TypeError('x402GraphQL(): this envelop server puts no `request` in the context to price')
      return Promise.resolve(gate.open(new YogaRequest(request), price)).then(async (opened) => {
        // Subscriptions are refused in `open` when priced; nothing else reaches here.
        if (opened.type === 'refused') {
          payload.setResultAndStopExecution({ errors: [await refusalError(opened.refusal, http(opened.refusal))] })
        } else if (opened.type === 'proceed') {
          await opened.release('subscription_not_supported')
        }
        return undefined
      })
    },
    /** A batch paid as one: its challenge (status, `PAYMENT-REQUIRED`) or receipt on the HTTP answer. */
    onResponse({
      request,
      response,
      setResponse,
    }: {
      request: Request
      response: Response
      setResponse(response: Response): void
    }) {
      const receipt = receipts.get(request)
      if (receipt) {
        receipts.delete(request)
        addHeaders(response.headers, receipt)
        return
      }
      const answer = batches.get(request)?.answer()
      if (!answer) return
      const headers = new Headers(response.headers)
      addHeaders(headers, answer.headers)
      setResponse(new Response(response.body, { status: answer.status ?? response.status, headers }))
    },
  }
}
