import { chargeFor, type Meter } from './metering.js'
import { warnOnce } from './overMax.js'
import type { CreditReceipt, StreamMeter } from './types.js'

// Declared beside the Decision that hands it out (types.ts); named here too, where it is made.
export type { StreamMeter }

/**
 * Bills a streamed response as it goes out. The adapter feeds it what the handler writes
 * and sends what it returns: whole SSE events (or chunks) while the reservation covers
 * them, then nothing more. `end()` captures what was sent and gives the final event.
 */
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
  /** The request's URL, for the seller's warning when the stream ends early. */
  resource?: string
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
  /** The answer went above the route's max: the stream was cut there. */
  let overMax = false
  /** An event stated the stream's count (a `usage`): the charge is no estimate. */
  let stated = false

  const elapsedSeconds = () => (performance.now() - input.startedAt) / 1000
  const chargeNow = (extra = 0): bigint => {
    return chargeFor(timed ? elapsedSeconds() : Math.max(0, units + extra), meter.unitPrice, decimals)
  }
  const checked = (n: number): number => {
    if (!Number.isFinite(n) || n < 0) throw new Error(`the route's meter counted ${n} for a stream event`)
    return n
  }
  /** Units one SSE event adds (its raw text, `data:` lines joined); a stated total replaces the count. */
  const eventUnits = (raw: string): number => {
    const data = raw
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
      .join('\n')
    if (data === '' || data === '[DONE]')
      return meter.kind === 'units' ? checked(meter.countEvent(undefined, raw) as number) : 0
    let event: unknown = data
    try {
      event = JSON.parse(data)
    } catch {}
    const n = meter.countEvent(event, meter.kind === 'units' ? raw : data)
    if (typeof n === 'number') return checked(n)
    stated = true
    return checked(n.total) - units
  }
  /**
   * Whether `n` more units fit in the reservation; if not, the stream is cut: the piece is
   * dropped (`overMax: 'refuse'`) or counted and sent, charged up to the max (`'cap'`).
   */
  const fits = (n: number): boolean => {
    if (chargeNow(n) <= reserved) {
      units += n
      return true
    }
    stopped = true
    overMax = true
    if (meter.overMax === 'cap') units += n
    return meter.overMax === 'cap'
  }

  /** Meters one chunk: what to send now, and whether the reserve is used up. */
  const meterChunk = (chunk: Uint8Array): { send: Uint8Array | undefined; stop: boolean } => {
    if (timed && chargeNow() > reserved) {
      stopped = true
      overMax = true
      return { send: undefined, stop: true }
    }
    if (meter.kind === 'seconds') return { send: chunk, stop: false }
    const text = decoder.decode(chunk, { stream: true })
    if (!sse) return { send: fits(checked(meter.countChunk(text))) ? chunk : undefined, stop: stopped }
    pending += text
    let out = ''
    while (!stopped) {
      const boundary = /\r?\n\r?\n/.exec(pending)
      if (!boundary) break
      const raw = pending.slice(0, boundary.index + boundary[0].length)
      pending = pending.slice(raw.length)
      let n: number
      try {
        n = eventUnits(raw.slice(0, boundary.index))
      } catch (error) {
        // Send the events metered so far, then stop (see write()).
        failed = error
        stopped = true
        break
      }
      if (fits(n)) out += raw
    }
    if (stopped) pending = ''
    return { send: out ? encoder.encode(out) : undefined, stop: stopped }
  }

  const settle = (reason?: string) => {
    const all = (timed && overMax) || reason === 'usage_missing'
    settled ??= input.settle(all ? reserved : minCharge(chargeNow(), reserved), reason)
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
        try {
          if (fits(sse ? eventUnits(pending) : 0)) tail = sse ? `${pending}\n\n` : pending
        } catch (error) {
          failed = error
          stopped = true
        }
        pending = ''
      }
      if (timed && !stopped && chargeNow() >= reserved) overMax = true
      // An estimate misses what the text does not show (reasoning tokens): with
      // `missingUsage: 'max'` a stream that never stated its usage is charged the max.
      const unstated = meter.kind === 'tokens' && meter.missingUsage === 'max' && !stated
      const reason = failed ? 'meter_failed' : overMax ? 'metered_over_max' : unstated ? 'usage_missing' : undefined
      const receipt = await settle(reason)
      let final = ''
      if (sse) {
        if (reason)
          final += `event: ${reason}\ndata: ${JSON.stringify({ reason, message: endMessage(reason, meter, failed) })}\n\n`
        final += `event: x402-receipt\ndata: ${receiptJson(receipt)}\n\n`
      }
      if (reason) warnOnce(meter, endMessage(reason, meter, failed), input.resource)
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

/** What the caller's final event (and the seller's warning) says about a stream's early end. */
function endMessage(reason: string, meter: Meter, failed: unknown): string {
  if (reason === 'usage_missing') {
    return `the stream ended without a usage count (OpenAI's sent with stream_options.include_usage); it is charged the route's max of $${meter.max}`
  }
  if (reason === 'meter_failed') {
    return `the route's meter could not count an event (${(failed as Error)?.message ?? failed}); the stream ends here, charged for what was sent`
  }
  return `the answer went above the route's max of $${meter.max}; the stream ends here, charged for what was sent (at most the max)`
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
