import type { GraphQLGate, Opened } from './createGate.js'
import type { GraphQLResult } from './fullyErrored.js'
import { formattedError, refusalError } from './loadGraphQL.js'
import type { Refusal } from './refusal.js'

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

const isAsyncIterable = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value

const http = (refusal: Refusal) => ({ status: refusal.status, headers: Object.fromEntries(refusal.headers) })

/** Prices one operation and asks the paywall: `undefined` when it is free (no promise then). */
function openFor(gate: GraphQLGate, { args }: ExecutePayload): Promise<Opened> | undefined {
  const price = gate.priceOf(args.schema, args.document, args.operationName, args.variableValues)
  if (!price || price.amount === 0n) return undefined
  const request = args.contextValue.request
  if (!request) throw new TypeError('x402GraphQL(): this envelop server puts no `request` in the context to price')
  // A head with its URL parsed once (the paywall would parse Yoga's `request.url` again).
  const parsedUrl = new URL(request.url)
  return gate.open({ url: parsedUrl.href, method: request.method, headers: request.headers, parsedUrl }, price)
}

/**
 * The envelop hooks GraphQL Yoga runs for each operation (each one of a batch too): price
 * and pay in `onExecute` (a refusal stops execution with a `GraphQLError` carrying its HTTP
 * status and headers), settle or release in `onExecuteDone`, with the receipt headers in the
 * result's `extensions.http` (which Yoga sends as headers and leaves out of the body).
 */
export function yogaHooks(gate: GraphQLGate) {
  return {
    /** `yoga.dispose()`: closes the paywall (its ledger, its reconciler). */
    onDispose: () => gate.paywall.close(),
    onExecute(payload: ExecutePayload) {
      const opening = openFor(gate, payload)
      if (!opening) return undefined
      return opening.then(async (opened) => {
        if (opened.type === 'free') return undefined
        if (opened.type === 'refused') {
          const error = await refusalError(opened.refusal, http(opened.refusal))
          payload.setResultAndStopExecution({ errors: [error] })
          return undefined
        }
        return {
          async onExecuteDone({ result, setResult }: ExecuteDonePayload) {
            // An incremental result (@defer, @stream) is charged as served once it started.
            const shown = (isAsyncIterable(result) ? { data: {} } : result) as GraphQLResult & {
              extensions?: Record<string, unknown>
            }
            const closed = await gate.close(opened, shown)
            if (isAsyncIterable(result)) return
            if ('refusal' in closed) {
              setResult({ errors: [formattedError(closed.refusal)], extensions: { http: http(closed.refusal) } })
              return
            }
            if (closed.headers.length === 0) return
            const extensions = shown.extensions ?? {}
            setResult({
              ...shown,
              extensions: { ...extensions, http: { headers: Object.fromEntries(closed.headers) } },
            })
          },
        }
      })
    },
    onSubscribe(payload: ExecutePayload) {
      const opening = openFor(gate, payload)
      if (!opening) return undefined
      return opening.then(async (opened) => {
        // Subscriptions are refused in `open` when priced; nothing else reaches here.
        if (opened.type === 'refused') {
          payload.setResultAndStopExecution({ errors: [await refusalError(opened.refusal, http(opened.refusal))] })
        } else if (opened.type === 'proceed') {
          await opened.decision.abort('subscriptions are not priced per operation')
        }
        return undefined
      })
    },
  }
}
