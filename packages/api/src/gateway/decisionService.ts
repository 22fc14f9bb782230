import type { IncomingMessage, ServerResponse } from 'node:http'
import { trackingPairs } from '../paywall/callerView.js'
import type { Paywall } from '../paywall/createPaywall.js'
import type { ResolvedRoute } from '../paywall/resolvePaywall.js'
import { errorResponse, faultResponse } from '../paywall/responses.js'
import type { Proceed, RouteOptions } from '../paywall/types.js'
import { checkGatewayAuth } from './gatewayAuth.js'
import { createTickets } from './tickets.js'
import { AbortSchema, type DecideBody, DecideSchema, FinishSchema, requestOf } from './wireRequest.js'
import { headerRecord, wireResponse } from './wireResponse.js'

export const decidePath = '/__402x/decide'
export const finishPath = '/__402x/finish'
export const abortPath = '/__402x/abort'

export type DecisionServiceOptions = {
  /** The bearer token callers must send. Else `X402_GATEWAY_TOKEN`; without either, loopback callers only. */
  token?: string
  /** How long a `proceed` ticket waits for `finish` before it is released. @default 600000 */
  ticketTtlMs?: number
  /** The largest `decide` body accepted, in bytes (the caller's body is inside it). @default 8 MiB */
  maxBodyBytes?: number
}

/** Routes declared by callers (`route` in `decide`), at most this many distinct ones. */
const maxDeclared = 10_000

/**
 * The decision service (docs/decision-service.md): `POST /__402x/decide`, `/finish` and
 * `/abort`, for app servers in any language to call around their handlers. `handle`
 * answers a request for one of those paths and returns `true`; any other, `false`.
 */
export function decisionService(paywall: Paywall, options: DecisionServiceOptions = {}) {
  const token = options.token ?? (process.env.X402_GATEWAY_TOKEN || undefined)
  const maxBody = options.maxBodyBytes ?? 8 * 1024 * 1024
  const report = (error: unknown) => void paywall.events.emit('error', error)
  const tickets = createTickets(options.ticketTtlMs ?? 600_000, report)
  const declared = new Map<string, ResolvedRoute>()

  const routeOf = (body: DecideBody, request: Request): ResolvedRoute | undefined => {
    // The path as the caller spelled it (`new URL` would resolve its dot segments).
    const target = targetOf(body.url)
    const matched = paywall.match(request.method, target)
    // A refused spelling and the paywall's own paths (credits, discovery) win over a declaration.
    if (!body.route || matched?.refusal || (matched && !matched.pattern && !paywall.config.guardsAll)) return matched
    const pattern = body.pattern ?? `${request.method} ${new URL(request.url).pathname}`
    const key = `${pattern}\n${JSON.stringify(body.route)}`
    let route = declared.get(key)
    if (!route) {
      if (declared.size >= maxDeclared) declared.clear()
      route = paywall.config.resolveRoute(pattern, body.route as RouteOptions)
      declared.set(key, route)
    }
    return route
  }

  const decide = async (json: unknown) => {
    const parsed = DecideSchema.safeParse(json)
    if (!parsed.success) return invalid(parsed.error)
    const body = parsed.data
    let request: Request
    let route: ResolvedRoute | undefined
    try {
      request = requestOf(body)
      route = routeOf(body, request)
    } catch (error) {
      return badInput(error)
    }
    if (route === undefined) return { action: 'proceed', ticket: null, headers: {} }
    const decision = await paywall.handle(request, route, { ip: body.ip, creditsServed: true })
    if (decision.type === 'respond') return { action: 'respond', ...(await wireResponse(decision.response)) }
    if (decision.type === 'skip')
      return { action: 'proceed', ticket: null, headers: headerRecord(decision.headers ?? []) }
    const caller = decision.caller
    return {
      action: 'proceed',
      ticket: tickets.issue(decision),
      headers: caller ? headerRecord(trackingPairs(caller)) : {},
      ...(caller ? { caller } : {}),
    }
  }

  const finish = async (json: unknown) => {
    const parsed = FinishSchema.safeParse(json)
    if (!parsed.success) return invalid(parsed.error)
    const { ticket, status, units, body, contentType } = parsed.data
    const decision = tickets.take(ticket)
    if (!decision) return unknownTicket()
    return finishDecision(decision, status, units, body, contentType)
  }

  const abort = async (json: unknown) => {
    const parsed = AbortSchema.safeParse(json)
    if (!parsed.success) return invalid(parsed.error)
    const decision = tickets.take(parsed.data.ticket)
    if (!decision) return unknownTicket()
    await decision.abort(parsed.data.reason ?? 'the app server aborted the request')
    return { action: 'aborted' }
  }

  const paths: Record<string, (json: unknown) => Promise<unknown>> = {
    [decidePath]: decide,
    [finishPath]: finish,
    [abortPath]: abort,
  }

  return {
    handle(req: IncomingMessage, res: ServerResponse): boolean {
      const path = (req.url ?? '/').split('?')[0] as string
      const call = paths[path]
      if (!call) return false
      serve(req, res, call).catch((error) => {
        report(error)
        if (!res.headersSent) void sendResponse(res, faultResponse(error))
      })
      return true
    },
    /** Open tickets: decisions waiting for `finish`. */
    get open() {
      return tickets.size
    },
    /** Releases every open ticket. */
    close: () => tickets.close(),
  }

  async function serve(req: IncomingMessage, res: ServerResponse, call: (json: unknown) => Promise<unknown>) {
    const { forwarded, 'x-forwarded-for': forwardedFor, 'x-real-ip': realIp } = req.headers
    const refused = checkGatewayAuth(
      token,
      req.socket.remoteAddress,
      req.headers.authorization,
      forwarded !== undefined || forwardedFor !== undefined || realIp !== undefined,
    )
    if (refused) return sendResponse(res, refused)
    if (req.method !== 'POST') {
      const response = errorResponse(405, 'method_not_allowed', `send POST ${req.url}: the decision service takes JSON`)
      response.headers.set('allow', 'POST')
      return sendResponse(res, response)
    }
    const text = await readText(req, maxBody)
    if (text === undefined) {
      return sendResponse(
        res,
        errorResponse(
          413,
          'payload_too_large',
          `the JSON is over ${maxBody} bytes: send the request body only to routes whose price reads it`,
        ),
      )
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      return sendResponse(res, errorResponse(400, 'invalid_request', 'the body is not JSON: send a JSON object'))
    }
    let out: unknown
    try {
      out = await call(json)
    } catch (error) {
      return sendResponse(res, faultResponse(error))
    }
    if (out instanceof Response) return sendResponse(res, out)
    const payload = JSON.stringify(out)
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    res.end(payload)
  }
}

/**
 * The handler's status (and units or body, on metered and credit-funded routes) settles or
 * releases the decision: the receipt headers to add, or an answer to send instead.
 */
async function finishDecision(
  decision: Proceed,
  status: number,
  units: number | undefined,
  body: string | undefined,
  contentType: string | undefined,
) {
  if (decision.finishStatus && units === undefined && body === undefined) {
    const outcome = await decision.finishStatus(status)
    if (outcome instanceof Response) return { action: 'respond', ...(await wireResponse(outcome)) }
    return { action: 'send', charged: outcome !== undefined, headers: outcome ? headerRecord(outcome.headers) : {} }
  }
  const json = units !== undefined ? JSON.stringify({ tokens: units, items: units, units }) : (body ?? '')
  const handler = new Response(status === 204 || status === 304 ? null : json, {
    status,
    headers: {
      'content-type':
        units !== undefined
          ? 'application/json'
          : (contentType ?? (looksLikeJson(json) ? 'application/json' : 'text/plain; charset=utf-8')),
    },
  })
  const final = await decision.finish(handler)
  if (final.status !== status) return { action: 'respond', ...(await wireResponse(final)) }
  // The core changed the body the app sent (a metered SSE answer cut at its maximum, with its
  // receipt event): the app must send this one, not its own, or it would serve what is unpaid.
  if (body !== undefined) {
    const wire = await wireResponse(final)
    if (wire.body !== body) return { action: 'respond', ...wire }
  }
  const added: Record<string, string> = {}
  for (const [name, value] of final.headers) if (handler.headers.get(name) !== value) added[name] = value
  const charged = 'payment-response' in added || 'x-402x-receipt' in added
  return { action: 'send', charged, headers: added }
}

/** Whether a body the app sent is JSON (then metered as the JSON it is: its `usage`, its text). */
function looksLikeJson(text: string): boolean {
  if (!/^\s*[[{]/.test(text)) return false
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

const invalid = (error: { issues: { path: PropertyKey[]; message: string }[] }) => {
  const issue = error.issues[0]
  const field = issue?.path.map(String).join('.') || 'the body'
  return errorResponse(
    400,
    'invalid_request',
    `${field}: ${issue?.message ?? 'not as documented'} (docs/decision-service.md)`,
  )
}

/** The request target of a URL as written: its path and query, unresolved. */
const targetOf = (url: string) => url.replace(/^https?:\/\/[^/?#]*/i, '') || '/'

/** A declared route or a URL that cannot be read: the app server's mistake, 400. */
const badInput = (error: unknown) => {
  const message = error instanceof Error ? error.message : String(error)
  return errorResponse(400, 'invalid_request', `${message} (docs/decision-service.md)`)
}

const unknownTicket = () =>
  errorResponse(
    404,
    'ticket_unknown',
    'this ticket was used, expired, or comes from another gateway instance: call decide again, and send finish to the gateway that answered it',
  )

async function readText(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) return undefined
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

async function sendResponse(res: ServerResponse, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer())
  res.writeHead(response.status, headerRecord(response.headers))
  res.end(body)
}
