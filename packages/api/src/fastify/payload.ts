import type { StreamMeter } from '../paywall/types.js'

/** A Fastify payload (string, Buffer or stream) read in full. */
export async function toBuffer(payload: unknown): Promise<Buffer | null> {
  if (payload === null || payload === undefined) return null
  if (typeof payload === 'string') return Buffer.from(payload)
  if (Buffer.isBuffer(payload)) return payload
  const chunks: Buffer[] = []
  for await (const chunk of payload as AsyncIterable<Buffer | string>) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}

/**
 * A metered SSE payload, streamed through the meter: whole events go out while the
 * reservation covers them, then the final `x402-receipt` event. A caller that leaves is
 * charged for what was sent; a payload that fails midway ends the stream there.
 */
export async function* meteredEvents(source: AsyncIterable<Buffer | string>, meter: StreamMeter) {
  let ended = false
  const iterator = source[Symbol.asyncIterator]()
  try {
    for (;;) {
      let next: IteratorResult<Buffer | string>
      try {
        next = await iterator.next()
      } catch {
        break
      }
      if (next.done) break
      const out = meter.write(Buffer.from(next.value))
      if (out.send) yield Buffer.from(out.send)
      if (out.stop) break
    }
    ended = true
    const { send } = await meter.end()
    if (send) yield Buffer.from(send)
  } finally {
    if (!ended) await meter.abandon()
    await iterator.return?.()
  }
}
