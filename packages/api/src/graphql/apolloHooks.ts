import type { RequestHead } from '../paywall/types.js'
import type { GraphQLGate, Opened } from './createGate.js'
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
    body?: { kind: 'single'; singleResult: GraphQLResult } | { kind: 'incremental'; initialResult: GraphQLResult }
  }
}

/** The request as the paywall reads it: Apollo gives headers and the query, not the path. */
function headOf(http: NonNullable<ApolloRequestContext['request']['http']>, path: string): RequestHead {
  const host = http.headers.get('host') ?? 'localhost'
  const search = http.search && !http.search.startsWith('?') ? `?${http.search}` : http.search
  const parsedUrl = new URL(`http://${host}${path}${search}`)
  return {
    url: parsedUrl.href,
    method: http.method,
    parsedUrl,
    headers: { get: (name) => http.headers.get(name.toLowerCase()) ?? null },
  }
}

/**
 * The Apollo Server plugin hooks: price and pay in `didResolveOperation` (before execution;
 * a refusal is a `GraphQLError` with its HTTP status and headers), settle or release in
 * `willSendResponse`. Each operation of a batch goes through them on its own.
 */
export function apolloHooks(gate: GraphQLGate) {
  return {
    async serverWillStart({ schema }: { schema: ApolloRequestContext['schema'] }) {
      gate.check(schema)
      return {
        async serverWillStop() {
          await gate.paywall.close()
        },
      }
    },
    async requestDidStart() {
      let held: Extract<Opened, { type: 'proceed' }> | undefined
      return {
        async didResolveOperation(rc: ApolloRequestContext) {
          const { request, document } = rc
          if (!document || !request.http) return
          const price = gate.priceOf(rc.schema, document, rc.operationName ?? request.operationName, request.variables)
          if (!price) return
          const opened = await gate.open(headOf(request.http, gate.path), price)
          if (opened.type === 'proceed') held = opened
          else if (opened.type === 'refused') {
            const { status, headers } = opened.refusal
            throw await refusalError(opened.refusal, { status, headers: new Map(headers) })
          }
        },
        async willSendResponse(rc: ApolloRequestContext) {
          const opened = held
          if (!opened) return
          held = undefined
          const { body, http } = rc.response
          const result = body?.kind === 'single' ? body.singleResult : (body?.initialResult ?? {})
          const closed = await gate.close(opened, result)
          if ('refusal' in closed) {
            // The settlement failed: the answer is not served.
            rc.response.body = { kind: 'single', singleResult: { errors: [formattedError(closed.refusal)] } }
            http.status = closed.refusal.status
            for (const [name, value] of closed.refusal.headers) http.headers.set(name, value)
            return
          }
          for (const [name, value] of closed.headers) http.headers.set(name, value)
        },
      }
    },
  }
}
