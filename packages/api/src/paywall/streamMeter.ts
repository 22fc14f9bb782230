import { chargeFor, type Meter } from './metering.js'
import type { CreditReceipt } from './types.js'

/**
 * Bills a streamed response as it goes out. The adapter feeds it what the handler writes
 * and sends what it returns: whole SSE events (or chunks) while the reservation covers
 * them, then nothing more. `end()` captures what was sent and gives the final event.
 */
export type StreamMeter = {
  /** Feed a chunk the handler wrote: what to send now, and whether the reserve is used up. */
  write(chunk: Uint8Array): { send: Uint8Array | undefined; stop: boolean }
  /**
   * The stream ends (the handler ended it, or the reserve ran out): captures what was sent,
   * releases the rest, and returns the unsent tail plus, on SSE, a final `x402-receipt` event.
   */
  end(): Promise<{ send: Uint8Array | undefined; receipt: CreditReceipt }>
  /** The caller went away: capture only what was sent. */
  abandon(): Promise<void>
  /** For time-priced streams: ms until the reserve is used up (the adapter ends it then). */
  exhaustsInMs(): number | undefined
  readonly stopped: boolean
}

export type StreamMeterInput = {
  meter: Meter
  reserved: bigint
  decimals: number
  /** `performance.now()` when the handler started. */
  startedAt: number
  /** Whether the body is `text/event-stream`: then whole events are metered. */
  sse: boolean
  /** Captures `amount` of the reservation and releases the rest; returns the receipt. */
  settle(amount: bigint, reason?: string): Promise<CreditReceipt>
}

const encoder = new TextEncoder()

export function createStreamMeter(input: StreamMeterInput): StreamMeter {
  const { meter, reserved, decimals, sse } = input
  const timed = meter.kind === 'seconds'
  const decoder = new TextDecoder()
  let pending = ''
  let units = 0
  let stopped = false
  let ended = false
  let settled: Promise<CreditReceipt> | undefined
  /** Why the route's meter failed, when it did: the stream stopped there. */
  let failed: unknown

  const elapsedSeconds = () => (performance.now() - input.startedAt) / 1000
  const chargeNow = (extra = 0): bigint => {
    return chargeFor(timed ? elapsedSeconds() : units + extra, meter.unitPrice, decimals)
  }
  /** Units of one SSE event (its raw text, `data:` lines joined). */
  const eventUnits = (raw: string): number => {
    if (!sse) return meter.countEvent(raw, raw) || (meter.kind === 'tokens' && raw.length > 0 ? 1 : 0)
    const data = raw
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
      .join('\n')
    if (data === '' || data === '[DONE]') return meter.kind === 'units' ? meter.countEvent(undefined, raw) : 0
    let event: unknown = data
    try {
      event = JSON.parse(data)
    } catch {}
    const n = meter.countEvent(event, meter.kind === 'units' ? raw : data)
    if (!Number.isFinite(n) || n < 0) throw new Error(`the route's meter counted ${n} for a stream event`)
    return n
  }

  /** Meters one chunk: what to send now, and whether the reserve is used up. */
  const meterChunk = (chunk: Uint8Array): { send: Uint8Array | undefined; stop: boolean } => {
    if (timed && chargeNow() > reserved) {
      stopped = true
      return { send: undefined, stop: true }
    }
    if (meter.kind === 'seconds') return { send: chunk, stop: false }
    const text = decoder.decode(chunk, { stream: true })
    if (!sse) {
      const n = eventUnits(text)
      if (chargeNow(n) > reserved) {
        stopped = true
        return { send: undefined, stop: true }
      }
      units += n
      return { send: chunk, stop: false }
    }
    pending += text
    let out = ''
    for (;;) {
      const boundary = /\r?\n\r?\n/.exec(pending)
      if (!boundary) break
      const raw = pending.slice(0, boundary.index + boundary[0].length)
      let n: number
      try {
        n = eventUnits(raw.slice(0, boundary.index))
      } catch (error) {
        // Send the events metered so far, then stop (see write()).
        failed = error
        stopped = true
        pending = ''
        break
      }
      if (chargeNow(n) > reserved) {
        stopped = true
        pending = ''
        break
      }
      units += n
      out += raw
      pending = pending.slice(raw.length)
    }
    return { send: out ? encoder.encode(out) : undefined, stop: stopped }
  }

  const settle = (reason?: string) => {
    settled ??= input.settle(timed && stopped && !failed ? reserved : minCharge(chargeNow(), reserved), reason)
    return settled
  }

  return {
    get stopped() {
      return stopped
    },
    write(chunk) {
      if (stopped || ended) return { send: undefined, stop: stopped }
      try {
        return meterChunk(chunk)
      } catch (error) {
        // The route's meter failed on this chunk: the stream ends here, charged for what
        // was sent; nothing is thrown into the handler's write().
        failed = error
        stopped = true
        pending = ''
        return { send: undefined, stop: true }
      }
    },
    async end() {
      ended = true
      let tail: string | undefined
      if (!stopped && pending) {
        // An event the handler did not close with a blank line: send it if it is covered.
        let n = Number.POSITIVE_INFINITY
        try {
          n = sse ? eventUnits(pending) : 0
        } catch (error) {
          failed = error
        }
        if (!failed && chargeNow(n) <= reserved) {
          units += n
          tail = sse ? `${pending}\n\n` : pending
        } else stopped = true
        pending = ''
      }
      const receipt = await settle(failed ? 'meter_failed' : stopped ? 'reserve_exhausted' : undefined)
      const final = sse ? `event: x402-receipt\ndata: ${receiptJson(receipt)}\n\n` : ''
      const text = (tail ?? '') + final
      return { send: text ? encoder.encode(text) : undefined, receipt }
    },
    async abandon() {
      ended = true
      await settle('abandoned')
    },
    exhaustsInMs() {
      if (!timed) return undefined
      const perSecond = Number(meter.unitPrice) * 10 ** decimals
      return Math.max(0, (Number(reserved) / perSecond - elapsedSeconds()) * 1000)
    },
  }
}

const minCharge = (a: bigint, b: bigint) => (a < b ? a : b)

/** A receipt as the `X-402x-Receipt` header and the final stream event carry it. */
export function receiptJson(receipt: CreditReceipt): string {
  // Built by hand: it is on every credit-funded answer. The values are digits, a fixed word,
  // a hash and a reason code, so none needs escaping beyond what JSON.stringify gives them.
  const extra =
    (receipt.transaction ? `,"transaction":${JSON.stringify(receipt.transaction)}` : '') +
    (receipt.reason ? `,"reason":${JSON.stringify(receipt.reason)}` : '')
  return `{"reserved":"${receipt.reserved}","captured":"${receipt.captured}","returned":"${receipt.returned}","balance":"${receipt.balance}","decimals":${receipt.decimals},"refund":"${receipt.refund}"${extra}}`
}
