import type { ServerResponse } from 'node:http'
import { drained } from './drained.js'

/** Whether a response is a stream to send as it comes (server-sent events), never buffered. */
export const isEventStream = (response: Response): boolean =>
  Boolean(response.body) && (response.headers.get('content-type') ?? '').startsWith('text/event-stream')

/**
 * Sends a Web response's body as it comes (its status and headers already set on `res`),
 * and cancels the body when the caller goes away. A caller that reads slowly is never
 * buffered for without bound: once `res.write()` says its buffer is full, the next chunk is
 * read only after `'drain'`, so the body's own queue fills and its source holds back (the
 * live stream then drops events and says how many).
 *
 * @example
 * if (isEventStream(response)) return streamWebResponse(res, response)
 */
export async function streamWebResponse(res: ServerResponse, response: Response): Promise<void> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const cancel = () => void reader.cancel().catch(() => {})
  res.on('close', cancel)
  res.flushHeaders()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done || res.destroyed) break
      if (!res.write(value)) await drained(res)
    }
  } catch {
    // The stream ended with an error: end the answer.
  } finally {
    res.off('close', cancel)
    cancel()
    res.end()
  }
}
