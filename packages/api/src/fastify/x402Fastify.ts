import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { checkPaywallOptions } from '../config/checkPaywallOptions.js'
import { requestHead } from '../node/nodeRequest.js'
import { trackingHeaderNames, trackingPairs, type X402Caller } from '../paywall/callerView.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import { creditsPath } from '../paywall/credits.js'
import type { ResolvedRoute } from '../paywall/resolvePaywall.js'
import { handlerFailed, refusalBody } from '../paywall/responses.js'
import { normalizePath, withRouteParams } from '../paywall/routes.js'
import type { PaywallOptions, Proceed } from '../paywall/types.js'
import { meteredEvents, toBuffer } from './payload.js'

const pending = new WeakMap<FastifyRequest, { decision: Proceed; done: boolean }>()

function applyHeaders(reply: FastifyReply, response: Response) {
  for (const name of Object.keys(reply.getHeaders())) if (!response.headers.has(name)) reply.removeHeader(name)
  response.headers.forEach((value, name) => {
    if (name !== 'content-length') reply.header(name, value)
  })
}

/**
 * The paywall as a Fastify plugin with hooks: `onRequest` decides, `onSend` settles or
 * releases once the handler's payload is known. Registered at the root, it guards every
 * route of the instance (it is not encapsulated, so no route escapes it by accident).
 *
 * @example
 * import { x402Fastify } from '402x-api/fastify'
 * await app.register(x402Fastify, { routes: { 'GET /api/market/:symbol': 0.001 } })
 */
export const x402Fastify = Object.assign(
  (fastify: FastifyInstance, options: PaywallOptions, done: (error?: Error) => void) => {
    let paywall: Paywall
    try {
      checkPaywallOptions(options, 'x402Fastify')
      paywall = createPaywall(options)
    } catch (error) {
      done(error as Error)
      return
    }
    fastify.decorate('paywall', paywall)
    const report = (error: unknown) => void paywall.events.emit('error', error)
    const decide = async (request: FastifyRequest, reply: FastifyReply, route: ResolvedRoute | undefined) => {
      let head: ReturnType<typeof requestHead>
      try {
        head = requestHead(request.raw, request.url, { protocol: request.protocol })
      } catch {
        // A Host header, path or method that makes no request: bad input, not a fault.
        reply.code(400).header('content-type', 'application/json')
        return reply.send(
          JSON.stringify(
            refusalBody(
              'invalid_request',
              'the Host header is not a valid host[:port], or the path or the method is not valid',
            ),
          ),
        )
      }
      for (const name of trackingHeaderNames) if (request.headers[name] !== undefined) delete request.headers[name]
      const decision = await paywall.handle(head, route, {
        req: route?.needsRequest ? withRouteParams(request, route, request.url) : request,
        ip: request.ip,
      })
      if (decision.type === 'skip') {
        for (const [name, value] of decision.headers ?? []) reply.header(name, value)
        return
      }
      if (decision.type === 'respond') {
        // No route serves this method and path (Fastify's 404 handler has it): a 402 would
        // ask for a payment nothing can use, so Fastify's 404 answers instead.
        if (
          decision.paymentRequired &&
          decision.response.status === 402 &&
          request.is404 &&
          normalizePath(request.url) !== creditsPath
        )
          return
        reply.code(decision.response.status)
        applyHeaders(reply, decision.response)
        return reply.send(Buffer.from(await decision.response.arrayBuffer()))
      }
      if (decision.caller) {
        ;(request as { x402?: X402Caller }).x402 = decision.caller
        if (paywall.config.trackingHeaders)
          for (const [name, value] of trackingPairs(decision.caller)) request.headers[name] = value
      }
      const entry = { decision, done: false }
      pending.set(request, entry)
      // A handler that hijacks the reply skips onSend: settle (or charge) at the status its
      // response ended with, once it has gone out; a metered route cannot be metered then
      // and charges nothing.
      reply.raw.once('close', () => {
        if (entry.done) return
        entry.done = true
        if (reply.raw.writableFinished) {
          void decision.finish(new Response(null, { status: reply.raw.statusCode })).catch(report)
        } else decision.abort('the client closed the connection before the response').catch(report)
      })
    }
    // A price that reads the request waits for the parsed body (preHandler); others answer
    // before the body is read (onRequest).
    const deferred = new WeakMap<FastifyRequest, ResolvedRoute>()
    fastify.addHook('onRequest', async (request, reply) => {
      const route = paywall.match(request.method, request.url)
      if (route === undefined) return
      if (route?.needsRequest) {
        deferred.set(request, route)
        return
      }
      return decide(request, reply, route ?? undefined)
    })
    fastify.addHook('preHandler', async (request, reply) => {
      const route = deferred.get(request)
      if (route) return decide(request, reply, route)
    })
    fastify.addHook('onSend', async (request, reply, payload) => {
      const entry = pending.get(request)
      if (!entry || entry.done) return payload
      entry.done = true
      const headers = new Headers()
      for (const [name, value] of Object.entries(reply.getHeaders())) {
        if (value === undefined) continue
        // Each Set-Cookie stays its own header; joining them would break the cookies.
        if (Array.isArray(value)) for (const v of value) headers.append(name, String(v))
        else headers.set(name, String(value))
      }
      const status = reply.statusCode
      const contentType = String(reply.getHeader('content-type') ?? '')
      const streamed = payload !== null && typeof payload === 'object' && Symbol.asyncIterator in payload
      if (entry.decision.stream && streamed && status < 400 && /text\/event-stream/i.test(contentType)) {
        // Metered SSE: streamed as produced, billed as it goes (never buffered).
        const meter = entry.decision.stream(true)
        entry.decision.streamHeaders?.().forEach((value, name) => {
          reply.header(name, value)
        })
        reply.removeHeader('content-length')
        return Readable.from(meteredEvents(payload as AsyncIterable<Buffer | string>, meter))
      }
      const watchDelivery = () => {
        // Paid, but the caller may be gone: then the payment may be served again on a retry.
        if (reply.raw.destroyed) entry.decision.undelivered().catch(report)
        else
          reply.raw.once('close', () => {
            if (!reply.raw.writableFinished) entry.decision.undelivered().catch(report)
          })
      }
      const { finishStatus } = entry.decision
      if (finishStatus && (payload === null || typeof payload === 'string' || Buffer.isBuffer(payload))) {
        // A payload already in memory stays as it is: only the receipt headers are added.
        const outcome = await finishStatus(status)
        watchDelivery()
        if (outcome instanceof Response) {
          reply.code(outcome.status)
          applyHeaders(reply, outcome)
          return Buffer.from(await outcome.arrayBuffer())
        }
        for (const [name, value] of outcome?.headers ?? []) reply.header(name, value)
        return payload
      }
      let answer: Response
      try {
        const body = [204, 304].includes(status) ? null : await toBuffer(payload)
        answer = new Response(body, { status, headers })
      } catch {
        // The payload stream failed midway: nothing of it goes out, nothing is charged.
        answer = handlerFailed(500, true)
      }
      const final = await entry.decision.finish(answer)
      watchDelivery()
      reply.code(final.status)
      applyHeaders(reply, final)
      return Buffer.from(await final.arrayBuffer())
    })
    fastify.addHook('onRequestAbort', async (request) => {
      const entry = pending.get(request)
      if (entry && !entry.done) {
        entry.done = true
        await entry.decision.abort('the client closed the connection before the response')
      }
    })
    done()
  },
  { [Symbol.for('skip-override')]: true },
)
