import { apolloAccepts, apolloOffered, notAcceptable, usesIncremental } from './acceptable.js'
import { type BatchSlot, createBatch } from './createBatch.js'
import type { GraphQLGate, Held, Opened } from './createGate.js'
import type { OperationRequest } from './creditOperation.js'
import type { GraphQLResult } from './fullyErrored.js'
import { formattedError, refusalError } from './loadGraphQL.js'

/** What this plugin reads of Apollo Server's request context (structurally: no import of it). */
type ApolloRequestContext = {
  schema: Parameters<GraphQLGate['priceOf']>[0]
  document?: Parameters<GraphQLGate['priceOf']>[1]
  operationName?: string | null
  request: {
    operationName?: string | null
    variables?: Record<string, unknown> | null
    http?: { method: string; headers: Map<string, string>; search: string }
  }
  response: {
    http: { status?: number | undefined; headers: Map<string, string> }
    body?:
      | { kind: 'single'; singleResult: GraphQLResult & { extensions?: Record<string, unknown> } }
      | { kind: 'incremental'; initialResult: GraphQLResult }
  }
  /** Set by Apollo on each operation of a batched HTTP request. */
  requestIsBatched?: boolean
}

type ApolloHttp = NonNullable<ApolloRequestContext['request']['http']>

/**
 * The request as the paywall reads it: Apollo gives headers and the query, not the path (the
 * gate's `path`). Its URL is made when something reads it (the full pipeline), not before.
 */
class ApolloRequest implements OperationRequest {
  readonly method: string
  readonly headers: { get(name: string): string | null }
  #url: URL | undefined
  constructor(
    readonly http: ApolloHttp,
    readonly path: string,
  ) {
    this.method = http.method
    this.headers = { get: (name) => http.headers.get(name.toLowerCase()) ?? null }
  }

  get parsedUrl(): URL {
    if (this.#url) return this.#url
    const { search, headers } = this.http
    const query = search && !search.startsWith('?') ? `?${search}` : search
    this.#url = new URL(`http://${headers.get('host') ?? 'localhost'}${this.path}${query}`)
    return this.#url
  }

  get url(): string {
    return this.parsedUrl.href
  }
}

/** One operation as it runs: its hold, its place in a batch, and whether Apollo answered it. */
type Running = { held?: Held | undefined; slot?: BatchSlot; answered?: true }

/**
 * The Apollo Server plugin hooks: price and pay in `didResolveOperation` (before execution;
 * a refusal is a `GraphQLError` with its HTTP status and headers), settle or release in
 * `willSendResponse`, and release in `unexpectedErrorProcessingRequest` (a plugin or the
 * execution failed outside the operation's own errors: nothing is charged). The operations
 * of a batch (which share one HTTP answer head, and all start at once) are paid together
 * (createBatch).
 */
export function apolloHooks(gate: GraphQLGate) {
  const batches = new WeakMap<object, ReturnType<typeof createBatch>>()
  const running = new WeakMap<object, Running>()

  /** The batch of this operation: Apollo starts all of a batch's operations in one turn. */
  const batchOf = (rc: ApolloRequestContext) => {
    const key = rc.response.http
    const known = batches.get(key)
    if (known) return known
    const batch = createBatch(gate)
    batches.set(key, batch)
    queueMicrotask(() => batch.seal())
    return batch
  }

  return {
    async serverWillStart({ schema }: { schema: ApolloRequestContext['schema'] }) {
      gate.check(schema)
      return {
        async serverWillStop() {
          await gate.paywall.close()
        },
      }
    },
    async unexpectedErrorProcessingRequest({ requestContext }: { requestContext: ApolloRequestContext }) {
      const state = running.get(requestContext)
      if (!state) return
      // Apollo answers this operation (and its whole batch) with a 500: nothing is served.
      state.answered = true
      state.slot?.fail()
      await state.held?.release('execution_failed')
      await state.slot?.end('execution_failed')
    },
    async requestDidStart(started: ApolloRequestContext) {
      const state: Running = started.requestIsBatched ? { slot: batchOf(started).join() } : {}
      running.set(started, state)
      return {
        async didResolveOperation(rc: ApolloRequestContext) {
          const { request, document } = rc
          const price =
            document && request.http
              ? gate.priceOf(rc.schema, document, rc.operationName ?? request.operationName, request.variables)
              : undefined
          const priced = price && price.amount > 0n && request.http ? price : undefined
          if (!priced && !state.slot) return
          // Apollo answers 406 after willSendResponse settled: refused here, before any hold.
          const accept = priced ? request.http?.headers.get('accept') : undefined
          if (priced && !apolloAccepts(accept, () => usesIncremental(document))) {
            const refused = notAcceptable(accept ?? '', apolloOffered, gate.usd(priced.amount))
            throw await refusalError(refused, { status: refused.status, headers: new Map(refused.headers) })
          }
          const head = priced && request.http ? new ApolloRequest(request.http, gate.path) : undefined
          const opened: Opened = state.slot
            ? await state.slot.open(head, priced)
            : await gate.open(head as ApolloRequest, priced as NonNullable<typeof priced>)
          if (opened.type === 'proceed') {
            // Another plugin's didResolveOperation failed meanwhile: Apollo answered without it.
            if (state.answered) await opened.release('not_run')
            else state.held = opened
          } else if (opened.type === 'refused') {
            const { status, headers } = opened.refusal
            throw await refusalError(opened.refusal, { status, headers: new Map(headers) })
          }
        },
        async willSendResponse(rc: ApolloRequestContext) {
          state.answered = true
          const { body, http } = rc.response
          // Apollo answers a batch with an incremental (@defer) operation with a 500.
          if (state.slot && body?.kind === 'incremental') state.slot.fail()
          const held = state.held
          state.held = undefined
          if (!held) return state.slot?.end('not_run')
          const result = body?.kind === 'single' ? body.singleResult : (body?.initialResult ?? {})
          const closed = await held.close(result)
          if ('refusal' in closed) {
            // The settlement failed: the answer is not served.
            rc.response.body = { kind: 'single', singleResult: { errors: [formattedError(closed.refusal)] } }
            http.status = closed.refusal.status
            for (const [name, value] of closed.refusal.headers) http.headers.set(name, value)
            return
          }
          for (const [name, value] of closed.headers) http.headers.set(name, value)
          if (closed.extensions && body?.kind === 'single') {
            body.singleResult.extensions = { ...body.singleResult.extensions, ...closed.extensions }
          }
        },
      }
    },
  }
}
