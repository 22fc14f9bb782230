import type { EventEmitter } from 'node:events'
import { liveEventJson } from './liveEventJson.js'

/** What the live stream listens to: `request` and `payment` events. */
type Source = Pick<EventEmitter, 'on' | 'off'>

/**
 * The most bytes a stream's queue holds for a reader that does not keep up (the events
 * waiting for the next batch, at most {@link liveBatchEvents}, are kept as the objects they
 * are); past it, events are dropped and counted.
 */
export const liveQueueBytes = 256 * 1024

/** The most events one batch holds before it is written; past it, events are dropped and counted. */
export const liveBatchEvents = 10_000

/**
 * The dashboard's live stream (`GET /__402x/admin/live`): server-sent events, one
 * `request` per request the paywall saw and one `payment` per settlement, amounts as
 * dollar strings, and a `: ping` comment every `pingMs`; events are sent in batches at
 * most `batchMs` apart. A reader that falls behind (the adapter waits for its socket to
 * drain before reading more) misses events, counted in the next `dropped` event, rather
 * than holding more than {@link liveQueueBytes} of memory.
 *
 * @example
 * return liveStream(rt.events, rt.decimals)
 */
export function liveStream(events: Source, decimals: number, pingMs = 15_000, batchMs = 50): Response {
  const encoder = new TextEncoder()
  let stop = () => {}
  let dropped = 0
  // Whether the reader's queue was full at the last write: then events are dropped (and
  // counted) until it reads (`pull`).
  let full = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let flush = () => {}
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        // Events are kept as they come (a reference each) and written in batches, every
        // `batchMs` at most: serialized together in one loop and sent in one write, which
        // keeps the stream's cost off a busy server's requests (spread over each request,
        // the same serialization cost several times as much).
        let pending: { type: string; data: unknown }[] = []
        flush = () => {
          timer = undefined
          const batch = pending
          pending = []
          const room = controller.desiredSize ?? liveQueueBytes
          let out = ''
          // The count of dropped events goes out once there is room again (`pull` asks).
          if (dropped && room > 0) {
            out += `event: dropped\ndata: ${dropped}\n\n`
            dropped = 0
          }
          for (const [i, { type, data }] of batch.entries()) {
            if (room - out.length <= 0) {
              dropped += batch.length - i
              break
            }
            out += `event: ${type}\ndata: ${liveEventJson(data, decimals)}\n\n`
          }
          if (out) controller.enqueue(encoder.encode(out))
          full = (controller.desiredSize ?? 1) <= 0
        }
        const send = (type: string, data: unknown) => {
          if (full || pending.length >= liveBatchEvents) {
            dropped += 1
            return
          }
          pending.push({ type, data })
          timer ??= setTimeout(flush, batchMs)
        }
        const onRequest = (event: unknown) => {
          if ((event as { path?: string }).path?.startsWith('/__402x/dashboard')) return
          send('request', event)
        }
        const onPayment = (event: unknown) => send('payment', event)
        events.on('request', onRequest)
        events.on('payment', onPayment)
        const ping = setInterval(() => {
          if ((controller.desiredSize ?? 1) > 0) controller.enqueue(encoder.encode(': ping\n\n'))
        }, pingMs)
        ping.unref?.()
        controller.enqueue(encoder.encode(`retry: 2000\n: connected\n\n`))
        stop = () => {
          clearInterval(ping)
          if (timer) clearTimeout(timer)
          events.off('request', onRequest)
          events.off('payment', onPayment)
        }
      },
      // The reader took some: there is room again for what was dropped meanwhile.
      pull() {
        full = false
        if (dropped && !timer) timer = setTimeout(flush, batchMs)
      },
      cancel() {
        stop()
      },
    },
    { highWaterMark: liveQueueBytes, size: (chunk) => chunk.byteLength },
  )
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    },
  })
}
