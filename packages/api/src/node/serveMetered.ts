import type { ServerResponse } from 'node:http'
import { responseOf } from '../paywall/knownBody.js'
import { receiptJson } from '../paywall/streamMeter.js'
import type { Proceed, StreamMeter } from '../paywall/types.js'
import { callBack, chunkBytes, headersOf, heldWriteHead, sendWebResponse } from './captureResponse.js'

const noBody = new Set([101, 204, 205, 304])

/**
 * Serves a metered route on a Node response. A handler that answers in one go (`res.json`,
 * `res.end(body)`) is buffered and metered whole. A handler that writes before it ends
 * streams: each SSE event (or chunk) goes out as soon as it is written and the reservation
 * covers it; when it no longer does, the stream ends with a final `x402-receipt` event (on
 * other streams, an `X-402x-Receipt` trailer) and later writes are dropped. `write()` returns
 * false while the caller's socket is full, and `'drain'` follows, as on any response. A caller
 * that leaves is charged for what was sent.
 */
export function serveMetered(res: ServerResponse, decision: Proceed, next: () => void, head: boolean): Promise<void> {
  const original = { write: res.write, end: res.end, writeHead: res.writeHead, flushHeaders: res.flushHeaders }
  let mode: 'pending' | 'buffer' | 'stream' | 'done' = 'pending'
  const chunks: Buffer[] = []
  let meter: StreamMeter | undefined
  let sse = false
  let timer: NodeJS.Timeout | undefined
  let resolve!: () => void
  const done = new Promise<void>((r) => {
    resolve = r
  })

  const send = (data: Uint8Array | undefined) => {
    if (data?.length && !res.destroyed) (original.write as (chunk: Uint8Array) => boolean).call(res, data)
  }

  const startStream = () => {
    mode = 'stream'
    // Node writes the head through writeHead when the body starts: give it the real one.
    res.writeHead = original.writeHead
    res.flushHeaders = original.flushHeaders
    sse = /text\/event-stream/i.test(String(res.getHeader('content-type') ?? ''))
    meter = (decision.stream as NonNullable<Proceed['stream']>)(sse)
    decision.streamHeaders?.().forEach((value, name) => {
      res.setHeader(name, value)
    })
    res.removeHeader('content-length')
    if (!sse) res.setHeader('trailer', 'X-402x-Receipt')
    const ms = meter.exhaustsInMs()
    if (ms !== undefined) timer = setTimeout(() => void endStream(), ms)
  }
  const endStream = async () => {
    if (mode !== 'stream' || !meter) return
    mode = 'done'
    clearTimeout(timer)
    try {
      const { send: tail, receipt } = await meter.end()
      send(tail)
      if (!sse && !res.destroyed) res.addTrailers({ 'x-402x-receipt': receiptJson(receipt) })
    } catch (error) {
      console.error(`402x: a metered stream could not be closed: ${(error as Error).message}`)
    } finally {
      if (!res.destroyed) (original.end as () => ServerResponse).call(res)
      resolve()
    }
  }
  const finishBuffered = async () => {
    mode = 'done'
    const headers = headersOf(res)
    const status = res.statusCode
    const body = noBody.has(status) ? null : Buffer.concat(chunks)
    try {
      const final = await decision.finish(responseOf(body, { status, headers }))
      // While the answer is held, a second end() or a late write() goes nowhere: the real
      // methods come back only to send the paid answer.
      Object.assign(res, original)
      if (res.destroyed) await decision.undelivered()
      else {
        res.once('close', () => {
          if (!res.writableFinished) void decision.undelivered()
        })
        await sendWebResponse(res, final, head)
      }
    } catch (error) {
      Object.assign(res, original)
      if (!res.headersSent) res.statusCode = 500
      if (!res.writableEnded) res.end()
      console.error(`402x: a metered response could not be finished: ${(error as Error).message}`)
    } finally {
      resolve()
    }
  }

  res.writeHead = heldWriteHead
  res.flushHeaders = () => {
    if (mode === 'pending' && res.statusCode < 400) startStream()
  }
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    callBack(rest)
    if (mode === 'done') return true
    if (mode === 'pending') {
      if (res.statusCode >= 400) mode = 'buffer'
      else startStream()
    }
    const data = chunkBytes(chunk, rest[0])
    if (mode === 'buffer') {
      if (data) chunks.push(data)
      return true
    }
    if (!data) return !res.writableNeedDrain
    const out = (meter as StreamMeter).write(data)
    send(out.send)
    if (out.stop) void endStream()
    // The caller's socket's backpressure, as a plain `write()` gives it: a writer that waits
    // for `'drain'` (the proxy reading its upstream) is held to what the caller reads.
    return !res.writableNeedDrain
  }) as ServerResponse['write']
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    callBack(rest)
    if (mode === 'done') return res
    const data = chunkBytes(chunk, rest[0])
    if (mode === 'stream') {
      if (data) send((meter as StreamMeter).write(data).send)
      void endStream()
      return res
    }
    if (data) chunks.push(data)
    void finishBuffered()
    return res
  }) as ServerResponse['end']

  res.once('close', () => {
    if (mode === 'done') return
    const was = mode
    mode = 'done'
    clearTimeout(timer)
    // The caller left: a stream is charged for what was sent, anything else nothing.
    const settle = was === 'stream' && meter ? meter.abandon() : decision.abort('the client closed the connection')
    void settle.finally(resolve)
  })
  next()
  return done
}
