import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import type { Agent, Dispatcher } from 'undici'
import { drained } from '../node/drained.js'
import { errorResponse } from '../paywall/responses.js'
import { callerResponseHeaders, type Hop, upstreamRequestHeaders } from './forwardHeaders.js'
import { includeUsage } from './includeUsage.js'

/** One upstream: its origin and the keep-alive pool to it. */
export type Upstream = { origin: string; host: string; agent: Agent }

export type ForwardOptions = {
  hop: Hop
  /** How long the upstream may take to send its head, and between body chunks, in ms. */
  timeoutMs: number
  maxRequestBytes: number
  /** The most bytes of the answer sent on (held paid answers); past it the answer is cut: nothing is charged. */
  maxResponseBytes: number | undefined
  /** Read the whole answer, then end it in one go, unless it is a stream (metered answers). */
  whole: boolean
  /**
   * The answer is metered (its bytes, its `usage`): asked for uncompressed, as a compressed
   * one would count short (a caller's `Accept-Encoding: gzip` would cut a per-KB price).
   */
  metered: boolean
  /**
   * A `pricePerToken` route: a JSON body with `"stream": true` is sent on asking for the
   * stream's usage (`stream_options.include_usage`), read whole (within `maxRequestBytes`).
   */
  includeUsage: boolean
}

/** Sent to the caller when the upstream could not answer: nothing is charged for a ≥ 400. */
const fail = (res: ServerResponse, status: number, code: string, message: string) => {
  if (res.headersSent || res.destroyed) {
    res.destroy()
    return
  }
  const response = errorResponse(status, code, message)
  res.writeHead(status, Object.fromEntries(response.headers))
  void response.text().then((text) => res.end(text))
}

class TooLarge extends Error {}

/** The request body, counted: past `max` bytes it stops with `TooLarge` (413). */
async function* limited(req: IncomingMessage, max: number): AsyncGenerator<Buffer> {
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > max) throw new TooLarge()
    yield chunk as Buffer
  }
}

/**
 * Sends the request to the upstream and its answer back through `res` (which the paywall may
 * be holding until the payment settles): status and headers less hop-by-hop ones, the body
 * chunk by chunk with backpressure, never buffered whole unless `whole`. An upstream that is
 * down answers 502, one that takes too long 504, a body over the limit 413: each charged nothing.
 */
export async function forward(req: IncomingMessage, res: ServerResponse, upstream: Upstream, options: ForwardOptions) {
  const method = req.method ?? 'GET'
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > options.maxRequestBytes) {
    return fail(res, 413, 'payload_too_large', `the request body is over ${options.maxRequestBytes} bytes: send less`)
  }
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
  const sent = upstreamRequestHeaders(req.headers, options.hop, upstream.host)
  if (options.metered) sent['accept-encoding'] = 'identity'
  let answer: Dispatcher.ResponseData
  try {
    let body: Readable | Buffer | undefined
    if (hasBody && method !== 'GET' && method !== 'HEAD') {
      if (options.includeUsage) {
        const chunks: Buffer[] = []
        for await (const chunk of limited(req, options.maxRequestBytes)) chunks.push(chunk)
        const whole = Buffer.concat(chunks)
        body = includeUsage(whole) ?? whole
        sent['content-length'] = String(body.length)
      } else body = Readable.from(limited(req, options.maxRequestBytes))
    }
    answer = await upstream.agent.request({
      origin: upstream.origin,
      path: upstreamPath(req.url ?? '/'),
      method: method as Dispatcher.HttpMethod,
      headers: sent as Record<string, string>,
      ...(body ? { body } : {}),
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    })
  } catch (error) {
    if (error instanceof TooLarge || (error as { cause?: unknown }).cause instanceof TooLarge) {
      return fail(res, 413, 'payload_too_large', `the request body is over ${options.maxRequestBytes} bytes: send less`)
    }
    const code = (error as { code?: string }).code
    if (code === 'UND_ERR_HEADERS_TIMEOUT') {
      return fail(
        res,
        504,
        'upstream_timeout',
        `the upstream did not answer within ${options.timeoutMs} ms; nothing was charged`,
      )
    }
    return fail(
      res,
      502,
      'upstream_unavailable',
      `the upstream ${upstream.origin} could not be reached (${code ?? (error as Error).message}); nothing was charged`,
    )
  }
  const { statusCode, headers, body } = answer
  // Destroying the body (a refused answer, a caller gone) emits an abort: never uncaught.
  body.on('error', () => {})
  const encoding = String(headers['content-encoding'] ?? 'identity').trim()
  if (options.metered && !/^identity$/i.test(encoding)) {
    body.destroy()
    return fail(
      res,
      502,
      'upstream_failed',
      `the upstream compressed a metered answer (content-encoding: ${encoding}) though asked for identity, so it cannot be counted; nothing was charged`,
    )
  }
  const length = Number(headers['content-length'] ?? 0)
  if (options.maxResponseBytes !== undefined && length > options.maxResponseBytes) {
    body.destroy()
    return fail(
      res,
      502,
      'upstream_response_too_large',
      `the upstream's answer is over ${options.maxResponseBytes} bytes; nothing was charged`,
    )
  }
  res.once('close', () => {
    if (!res.writableFinished) body.destroy()
  })
  try {
    res.writeHead(statusCode, callerResponseHeaders(headers))
    if (method === 'HEAD' || statusCode === 204 || statusCode === 304) {
      body.resume()
      res.end()
      return
    }
    // A metered answer that is not a stream is metered whole: its JSON `usage` is counted once.
    const stream = /text\/event-stream/i.test(String(headers['content-type'] ?? ''))
    if (options.whole && !stream) {
      const chunks: Buffer[] = []
      let size = 0
      for await (const chunk of body) {
        size += (chunk as Buffer).length
        if (options.maxResponseBytes !== undefined && size > options.maxResponseBytes) throw new TooLarge()
        chunks.push(chunk as Buffer)
      }
      res.end(Buffer.concat(chunks))
      return
    }
    let size = 0
    for await (const chunk of body) {
      // The caller left, or a metered stream ended (its reservation used up): read no more.
      if (res.destroyed || res.writableEnded) return void body.destroy()
      size += (chunk as Buffer).length
      if (options.maxResponseBytes !== undefined && size > options.maxResponseBytes) throw new TooLarge()
      if (!res.write(chunk)) await drained(res)
    }
    res.end()
  } catch (error) {
    body.destroy()
    // The upstream broke off (or sent too much) after its head. A paid answer is still held
    // (its head not sent): it becomes a 502, charged nothing, with none of the body. Else the
    // answer is cut.
    const message =
      error instanceof TooLarge
        ? `the upstream's answer is over ${options.maxResponseBytes} bytes; nothing was charged`
        : 'the upstream broke off its answer; nothing was charged'
    fail(res, 502, error instanceof TooLarge ? 'upstream_response_too_large' : 'upstream_failed', message)
  }
}

/** The path and query sent on: an absolute-form target (`http://host/x`) by its path; never a fragment. */
function upstreamPath(target: string): string {
  const path = target.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/, '').split('#', 1)[0] as string
  return path.startsWith('/') ? path : `/${path}`
}
