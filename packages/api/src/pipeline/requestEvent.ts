import { randomUUID } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import type { Decision, PaywallEvents, RequestEvent, StatusOutcome } from '../paywall/types.js'
import type { PaidContext } from './context.js'
import { frameworkRoute } from './frameworkRoute.js'

/**
 * `request` events (paywall/types.ts, `RequestEvent`): what the dashboard, metrics and logs
 * are fed from. Nothing here runs unless something listens: `handle` asks {@link watching}
 * once per request, and only then wraps the decision with {@link watchDecision}.
 */
export const watching = (events: EventEmitter<PaywallEvents>): boolean => events.listenerCount('request') > 0

/** What a request is known by before its answer: set when it arrives. */
type Start = { at: number; started: number; requestId: string; clientRequestId: string | undefined }

const safeRequestId = /^[A-Za-z0-9._:-]{1,128}$/

/** The caller's `X-Request-Id` when it is safe to repeat (in logs), else `undefined`. */
export function clientRequestIdOf(header: string | null | undefined): string | undefined {
  return header && safeRequestId.test(header) ? header : undefined
}

/**
 * When a request arrived: its epoch time, a monotonic clock reading, a fresh id (the
 * handler's `req.x402.requestId`: never the caller's, which it could repeat or forge) and
 * the caller's own `X-Request-Id`, kept apart.
 */
export function startOf(header: string | null | undefined): Start {
  return {
    at: Date.now(),
    started: performance.now(),
    requestId: randomUUID(),
    clientRequestId: clientRequestIdOf(header),
  }
}

/**
 * The decision, wrapped so that its outcome is told once as a `request` event: at once for
 * an answer the core gives, after the handler (`finish`, `finishStatus`, a stream's end,
 * `abort`) for one it lets through.
 */
export function watchDecision(ctx: PaidContext, decision: Decision, start: Start): Decision {
  if (decision.type === 'skip') return decision
  let told = false
  const tell = (status: number, response?: Response, captured?: bigint, reason?: string) => {
    if (told) return
    told = true
    void emitFor(ctx, start, status, response, captured, reason)
  }
  if (decision.type === 'respond') {
    tell(decision.response.status, decision.response, undefined, decision.paymentRequired?.error?.reason)
    return decision
  }
  const watched: Extract<Decision, { type: 'proceed' }> = {
    ...decision,
    finish: async (response) => {
      const out = await decision.finish(response)
      tell(out.status, out)
      return out
    },
    abort: async (reason) => {
      await decision.abort(reason)
      tell(499, undefined, 0n, 'client_closed_request')
    },
  }
  const { finishStatus, finishReturning, stream } = decision
  if (finishReturning) {
    watched.finishReturning = async (returned) => {
      const outcome = await finishReturning(returned)
      if (outcome instanceof Response) tell(outcome.status, outcome)
      else if (ctx.payment) tell(200, undefined, BigInt(ctx.payment.requirements.amount) - returned)
      return outcome
    }
  }
  if (finishStatus) {
    watched.finishStatus = async (status) => {
      const outcome: StatusOutcome = await finishStatus(status)
      if (outcome instanceof Response) tell(outcome.status, outcome)
      else tell(status, undefined, outcome ? receiptCaptured(outcome.headers) : 0n)
      return outcome
    }
  }
  if (stream) {
    watched.stream = (sse) => {
      const meter = stream(sse)
      const end = meter.end.bind(meter)
      meter.end = async () => {
        const ended = await end()
        tell(200, undefined, ended.receipt.captured)
        return ended
      }
      return meter
    }
  }
  return watched
}

/** What the `X-402x-Receipt` among `headers` says was captured; `undefined` without one. */
function receiptCaptured(headers: Iterable<[string, string]> | Headers): bigint | undefined {
  for (const [name, value] of headers) {
    if (name.toLowerCase() !== 'x-402x-receipt') continue
    try {
      return BigInt((JSON.parse(value) as { captured: string }).captured)
    } catch {
      return undefined
    }
  }
  return undefined
}

/** The reason code of a refusal's JSON body (`reason`, else `error`). */
async function reasonOf(response: Response): Promise<string | undefined> {
  if (!response.headers.get('content-type')?.includes('json')) return undefined
  try {
    const body = (await response.clone().json()) as { reason?: unknown; error?: unknown }
    const reason = body.reason ?? body.error
    // A code only: a seller's own error text is not one.
    return typeof reason === 'string' && /^[a-z0-9_.]{1,64}$/.test(reason) ? reason : undefined
  } catch {
    return undefined
  }
}

async function emitFor(
  ctx: PaidContext,
  start: Start,
  status: number,
  response: Response | undefined,
  captured: bigint | undefined,
  given: string | undefined,
): Promise<void> {
  const { rt } = ctx
  try {
    const durationMs = performance.now() - start.started
    const refused = status >= 400
    const reason = refused
      ? (given ?? (status === 402 ? 'payment_required' : response ? await reasonOf(response) : undefined))
      : undefined
    const funded = ctx.apiKey ? 'key' : ctx.payment ? 'paid' : ctx.creditAccount ? 'credit' : 'free'
    const outcome: RequestEvent['outcome'] = status >= 500 ? 'error' : refused ? 'refused' : funded
    let amount = 0n
    if (!refused && funded !== 'free') {
      amount =
        captured ??
        (response ? receiptCaptured(response.headers) : undefined) ??
        (ctx.payment && !ctx.apiKey ? BigInt(ctx.payment.requirements.amount) : 0n)
    }
    const requirements = ctx.payment?.requirements
    const event: RequestEvent = {
      requestId: start.requestId,
      ...(start.clientRequestId ? { clientRequestId: start.clientRequestId } : {}),
      at: start.at,
      durationMs,
      method: ctx.request.method,
      route: routeName(ctx),
      path: ctx.url.pathname,
      status,
      outcome,
      amount,
      network: requirements?.network ?? rt.config.network,
      asset: requirements?.asset ?? rt.config.asset.address,
      ...(reason ? { reason } : {}),
      ...(ctx.price !== undefined ? { price: ctx.price } : {}),
      ...(ctx.payment ? { payer: ctx.payment.exact.authorization.from } : {}),
      ...(ctx.row ? { paymentId: ctx.row } : {}),
      ...(ctx.creditAccount ? { account: ctx.creditAccount } : {}),
      ...(ctx.apiKey ? { keyId: ctx.apiKey.record.id, plan: ctx.apiKey.plan.name } : {}),
      ...(ctx.context.ip ? { ip: ctx.context.ip } : {}),
    }
    rt.events.emit('request', event)
  } catch (error) {
    // A listener's fault never reaches the caller, nor the payment.
    rt.events.emit('error', error)
  }
}

/**
 * The `request` event of a request the Node adapters served on a fast path (no
 * `PaidContext`): from credit (charged `amount` when the answer went out with a receipt), or
 * on an API key's plan (`keyId`, `plan`; nothing drawn within it).
 */
export function emitFast(
  events: EventEmitter<PaywallEvents>,
  input: {
    start: Start
    method: string
    route: string
    path: string
    status: number
    funded: 'credit' | 'key'
    amount: bigint
    price: string | undefined
    network: string
    asset: string
    account?: string | undefined
    keyId?: string | undefined
    plan?: string | undefined
    ip: string | undefined
    /** Why it was not charged (a refusal): else `handler_error` (≥ 500) or `handler_refused`. */
    reason?: string
  },
): void {
  try {
    const { start, status } = input
    const refused = status >= 400
    // Fields set one by one, not spread: this runs for every request of the fast paths.
    const event: RequestEvent = {
      requestId: start.requestId,
      at: start.at,
      durationMs: performance.now() - start.started,
      method: input.method,
      route: input.route,
      path: input.path,
      status,
      outcome: status >= 500 ? 'error' : refused ? 'refused' : input.funded,
      amount: refused ? 0n : input.amount,
      network: input.network,
      asset: input.asset,
    }
    if (start.clientRequestId) event.clientRequestId = start.clientRequestId
    if (refused) event.reason = input.reason ?? (status >= 500 ? 'handler_error' : 'handler_refused')
    if (input.price !== undefined) event.price = input.price
    if (input.account) event.account = input.account
    if (input.keyId) {
      event.keyId = input.keyId
      event.plan = input.plan as string
    }
    if (input.ip) event.ip = input.ip
    events.emit('request', event)
  } catch (error) {
    events.emit('error', error)
  }
}

/**
 * The route as configured: the paywall's pattern, else the framework's own route (Express
 * `req.route.path`, Hono `routePath`), else the path. Counted by route, a per-route paywall
 * must not grow a new key for every path a caller makes up.
 */
function routeName(ctx: PaidContext): string {
  if (ctx.route.pattern) return ctx.route.pattern.source
  const framework = frameworkRoute(ctx.context.req)
  return framework !== undefined ? `${ctx.request.method} ${framework}` : ctx.url.pathname
}
