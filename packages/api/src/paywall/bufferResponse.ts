import { knownBody, responseOf } from './knownBody.js'
import { handlerFailed } from './responses.js'
import type { Proceed, StreamMeter } from './types.js'

/**
 * Runs a Web-style handler for a paid request and reads its response in full (streams
 * included), so that nothing reaches the caller before the payment settles. A handler that
 * throws, or a body that fails midway, gives a 500 with nothing of the body: `finish` then
 * charges nothing.
 */
export async function bufferResponse(run: () => Response | Promise<Response>): Promise<Response> {
  let answer: Response
  try {
    answer = await run()
  } catch {
    return handlerFailed()
  }
  try {
    // Kept as bytes (`responseOf`): the receipt is stamped on a copy made from them, and an
    // adapter writes them as they are, with no web stream read back.
    return responseOf(answer.body ? new Uint8Array(await answer.arrayBuffer()) : null, answer)
  } catch {
    return handlerFailed(500, true)
  }
}

/**
 * Runs the handler of a request the core let through and answers: a metered route's
 * `text/event-stream` response streams, billed as it goes (see {@link meterWebStream}); a
 * body already in memory is settled from its status ({@link serveHeld}); any other
 * response is read in full, then settled (`finish`).
 */
export async function serveWeb(decision: Proceed, run: () => Response | Promise<Response>): Promise<Response> {
  let answer: Response
  try {
    answer = await run()
  } catch {
    return decision.finish(handlerFailed())
  }
  if (decision.stream && answer.status < 400 && answer.body && isEventStream(answer)) {
    return meterWebStream(decision, answer)
  }
  const held = decision.finishStatus ? inMemory(answer) : undefined
  if (held) return serveHeld(decision, answer, held.body)
  return decision.finish(await bufferResponse(() => answer))
}

const isEventStream = (answer: Response) => /text\/event-stream/i.test(answer.headers.get('content-type') ?? '')

/**
 * A body already in memory cannot fail midway: settle from the status alone, and send a
 * copy of the handler's response with the receipt headers, made from the same bytes
 * without reading a stream back. (A copy: the handler may return one Response object for
 * many requests, and a receipt must never reach another caller.)
 */
async function serveHeld(decision: Proceed, answer: Response, body: string | Uint8Array | null): Promise<Response> {
  // What a lightweight Response checks only when it is sent, checked before any charge:
  // headers that make no Web headers, a status outside 200–599.
  let headers: Headers
  try {
    headers = new Headers(answer.headers)
  } catch {
    return decision.finish(handlerFailed(500, true))
  }
  if (answer.status < 200 || answer.status > 599) return decision.finish(handlerFailed(500, true))
  const outcome = await (decision.finishStatus as NonNullable<Proceed['finishStatus']>)(answer.status)
  if (outcome instanceof Response) return outcome
  if (!outcome) return answer
  for (const [name, value] of outcome.headers) headers.set(name, value)
  // Bytes are copied: the handler may reuse its buffer.
  return responseOf(body instanceof Uint8Array ? body.slice() : body, { status: answer.status, headers })
}

/**
 * The body of a response held in memory as bytes or text: one 402x built (`responseOf`),
 * or @hono/node-server's lightweight `Response` over a string or bytes (its cache:
 * `[status, body, headers]` under a symbol named `cache`, the one its own writer checks).
 * `undefined` for anything else (a stream, another runtime's `Response`): the caller then
 * reads the body in full first.
 */
function inMemory(response: Response): { body: string | Uint8Array | null } | undefined {
  const known = knownBody(response)
  if (known !== undefined) return { body: known }
  for (const key of Object.getOwnPropertySymbols(response)) {
    if (key.description !== 'cache') continue
    const cache = (response as unknown as Record<symbol, unknown>)[key]
    const body = Array.isArray(cache) ? cache[1] : undefined
    return body === null || typeof body === 'string' || body instanceof Uint8Array ? { body } : undefined
  }
  return undefined
}

/**
 * Streams a metered SSE response through the reservation: whole events pass while it
 * covers them, then the stream ends with a final `x402-receipt` event. A caller that
 * cancels is charged for what was sent; a body that fails midway ends the stream there.
 */
export function meterWebStream(decision: Proceed, answer: Response): Response {
  const meter = (decision.stream as NonNullable<Proceed['stream']>)(true) as StreamMeter
  const headers = new Headers(answer.headers)
  decision.streamHeaders?.().forEach((value, name) => {
    headers.set(name, value)
  })
  headers.delete('content-length')
  const reader = (answer.body as ReadableStream<Uint8Array>).getReader()
  let timer: ReturnType<typeof setTimeout> | undefined
  let ended = false
  const end = async (controller: ReadableStreamDefaultController<Uint8Array>) => {
    if (ended) return
    ended = true
    clearTimeout(timer)
    try {
      const { send } = await meter.end()
      if (send) controller.enqueue(send)
    } finally {
      controller.close()
    }
  }
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const ms = meter.exhaustsInMs()
      if (ms !== undefined) {
        timer = setTimeout(() => {
          void reader.cancel().catch(() => {})
          void end(controller)
        }, ms)
      }
    },
    async pull(controller) {
      if (ended) return
      let chunk: Awaited<ReturnType<typeof reader.read>>
      try {
        chunk = await reader.read()
      } catch {
        return end(controller)
      }
      if (chunk.done) return end(controller)
      const out = meter.write(chunk.value)
      if (out.send) controller.enqueue(out.send)
      if (out.stop) {
        void reader.cancel().catch(() => {})
        return end(controller)
      }
    },
    async cancel() {
      if (ended) return
      ended = true
      clearTimeout(timer)
      void reader.cancel().catch(() => {})
      await meter.abandon()
    },
  })
  return new Response(body, { status: answer.status, statusText: answer.statusText, headers })
}
