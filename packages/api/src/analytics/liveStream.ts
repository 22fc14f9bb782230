import type { EventEmitter } from 'node:events'
import { liveEventJson } from './liveEventJson.js'

/** What the live stream listens to: `request` and `payment` events. */
type Source = Pick<EventEmitter, 'on' | 'off'>

/**
 * The most bytes a stream holds for a reader that does not keep up (its queue, events
 * waiting for the next batch included); past it, events are dropped and counted.
 */
export const liveQueueBytes = 256 * 1024

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
  let timer: ReturnType<typeof setTimeout> | undefined
  let flush = () => {}
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        // Events are written in batches, every `batchMs` at most: one write for many
        // requests keeps the stream's cost off a busy server's paid calls.
        let batch = ''
        const room = () => (controller.desiredSize ?? liveQueueBytes) - batch.length
        flush = () => {
          timer = undefined
          // The count of dropped events goes out once there is room again (`pull` asks).
          if (dropped && room() > 0) {
            batch += `event: dropped\ndata: ${dropped}\n\n`
            dropped = 0
          }
          if (batch) controller.enqueue(encoder.encode(batch))
          batch = ''
        }
        const send = (type: string, data: unknown) => {
          if (room() <= 0) {
            dropped += 1
            return
          }
          batch += `event: ${type}\ndata: ${liveEventJson(data, decimals)}\n\n`
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
