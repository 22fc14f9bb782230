import { formatMoney } from '@402x/core'
import type { CreditReceipt } from '../paywall/types.js'
import { type CreditSession, maxNano, nanoPerUnit } from './creditSession.js'
import { sentBytes } from './sentBytes.js'
import { paymentCloseCode, type SocketLike, type SocketMeterView, type WebSocketNotice } from './types.js'

export type MeterSocketInput = {
  session: CreditSession
  unit: 'message' | 'KB' | 'second'
  decimals: number
  /** Atomic units: `x402.credit_low` once the credit left falls below it. */
  warnBelow: bigint
  /** `POST <topUp>?amount=` tops the account up. */
  topUp: string
  /** Told once the connection's charges are written (the `receipt` event). */
  onClosed(receipt: CreditReceipt): void
  onError(error: unknown): void
}

const open = 1
/** How often a connection billed per second is checked against its reserve (and at the moment it runs out). */
const tickMs = 250
/** After a refill found no credit, how long before the next one is tried ahead of need. */
const dryMs = 100

type Callback = ((error?: Error) => void) | undefined
type Send = (data: unknown, options?: unknown, cb?: Callback) => void
type Queued = { data: unknown; options: unknown; cb: Callback; nano: bigint }

/**
 * Bills a `ws` connection from its credit session: every `ws.send` is counted (a message, or
 * its bytes) and sent while the reserve covers it; a send the reserve does not cover waits
 * for the next block, and when the credit is out the connection closes with 4402. Billed per
 * second, it is charged for the time it stays open. 402x's own notices are not billed.
 * The hot path compares nano-units with thresholds worked out when the reserve changes.
 */
export function meterSocket(ws: SocketLike, input: MeterSocketInput): { view: SocketMeterView; end(): void } {
  const { session, unit, decimals } = input
  const original = ws.send.bind(ws) as Send
  const perByte = unit === 'KB' ? nanoPerUnit / 1000n : 0n
  const unitCost = session.chargeFor(nanoPerUnit) - session.input.fixed
  const halfBlock = session.input.block / 2n
  let warned = false
  let ended = false
  let dryAt = Number.NEGATIVE_INFINITY
  /** Past this many nano-units, `watch()` has something to do (capture, prefetch, warn). */
  let watchAt = -1n
  /** Sends that wait for credit, in order, from `head` (a queue without `shift()`: bursts queue thousands). */
  let waiting: Queued[] = []
  let head = 0
  let waitingNano = 0n
  const startedAt = performance.now()

  /** Whether the app is midway through a message sent in fragments (`fin: false`): no other message may go out then. */
  let midMessage = false
  /** Notices held until the app's fragmented message is finished. */
  let held: WebSocketNotice[] = []
  const notify = (notice: WebSocketNotice) => {
    if (midMessage) held.push(notice)
    else if (ws.readyState === open) original(JSON.stringify(notice))
  }
  const checkLow = () => {
    const left = session.left() + session.available
    if (left >= input.warnBelow) {
      warned = false
      return
    }
    if (warned) return
    warned = true
    const remaining = unitCost > 0n ? Number((left < 0n ? 0n : left) / unitCost) : 0
    notify({
      type: 'x402.credit_low',
      balance: formatMoney(left < 0n ? 0n : left, decimals),
      remaining,
      unit,
      topUp: input.topUp,
      message: `credit for about ${remaining} more ${unit}${remaining === 1 ? '' : 's'}: top up with POST ${input.topUp}?amount=<dollars> and this connection's bearer token, and the stream stays open`,
    })
  }
  /** Works out the next threshold from the reserve as it is now. */
  const rearm = () => {
    const covered = session.covered()
    let at = session.captureAt()
    if (!session.refilling && performance.now() - dryAt >= dryMs) {
      const prefetch = session.nanoFor(covered - halfBlock)
      if (prefetch < at) at = prefetch
    }
    if (!warned) {
      const warn = session.nanoFor(covered + session.available - input.warnBelow)
      if (warn < at) at = warn
    }
    watchAt = at
  }
  const watch = () => {
    session.captureUsed()
    if (!session.refilling && session.left() * 2n < session.input.block && performance.now() - dryAt >= dryMs) refill()
    checkLow()
    rearm()
  }
  const exhausted = () => {
    if (ended) return
    notify({
      type: 'x402.credit_exhausted',
      reason: 'insufficient_credit',
      charged: formatMoney(session.charged(), decimals),
      topUp: input.topUp,
      message: `the credit is used up: top up with POST ${input.topUp}?amount=<dollars> and connect again`,
    })
    ws.close(paymentCloseCode, 'insufficient_credit: top up and connect again')
    finish()
  }
  /** Asks for the next block; sends what waited for it, or closes when there is none. */
  const refill = () => {
    session.refill(waitingNano).then((ok) => {
      if (!ok) dryAt = performance.now()
      if (ended) return
      const first = waiting[head]
      if (!ok && first && !session.fits(first.nano)) return exhausted()
      checkLow()
      rearm()
      drain()
    }, input.onError)
  }
  // One callback for every message without its own: a send that fails (the socket went away) is not charged.
  const failedMessage = (error?: Error) => {
    if (error) session.remove(nanoPerUnit)
  }
  const transmit = (data: unknown, options: unknown, cb: Callback, nano: bigint) => {
    session.nano += nano
    const done =
      cb || nano !== nanoPerUnit
        ? (error?: Error) => {
            if (error) session.remove(nano)
            cb?.(error)
          }
        : failedMessage
    try {
      original(data, options, done)
    } catch (error) {
      // `ws` refused it outright (what it cannot send): nothing went out, nothing is charged.
      session.remove(nano)
      throw error
    }
    if ((midMessage || options !== undefined) && finished(options)) flushHeld()
    if (session.nano > watchAt) watch()
  }
  /** Tracks a fragmented message: `false` while it goes on, `true` once its last fragment (or any whole message) is sent. */
  const finished = (options: unknown) => {
    midMessage = (options as { fin?: boolean } | null)?.fin === false
    return !midMessage && held.length > 0
  }
  const flushHeld = () => {
    const notices = held
    held = []
    for (const notice of notices) notify(notice)
  }
  const drain = () => {
    while (head < waiting.length && ws.readyState === open) {
      const next = waiting[head] as Queued
      if (!session.fits(next.nano)) return refill()
      waiting[head++] = undefined as unknown as Queued
      waitingNano -= next.nano
      transmit(next.data, next.options, next.cb, next.nano)
    }
    if (head === waiting.length) {
      waiting = []
      head = 0
    }
  }

  if (unit !== 'second') {
    ws.send = ((data: unknown, options?: unknown, cb?: Callback) => {
      if (typeof options === 'function') {
        cb = options as Callback
        options = undefined
      }
      // Not open (closing, closed): `ws` refuses it, and nothing is charged.
      if (ws.readyState !== open || ended) return original(data, options, cb)
      // A message sent in fragments (`fin: false` until the last) is one message; its bytes are all billed.
      const nano = perByte
        ? BigInt(sentBytes(data)) * perByte
        : (options as { fin?: boolean } | null | undefined)?.fin === false
          ? 0n
          : nanoPerUnit
      if (head === waiting.length && session.nano + nano <= session.limit) return transmit(data, options, cb, nano)
      waiting.push({ data, options, cb, nano })
      waitingNano += nano
      if (!session.refilling) refill()
    }) as SocketLike['send']
  }

  const elapsedNano = () => (BigInt(Math.round((performance.now() - startedAt) * 1000)) * nanoPerUnit) / 1_000_000n
  let timer: ReturnType<typeof setTimeout> | undefined
  /** The next check: in `tickMs`, or at the moment the reserve runs out if that is sooner. */
  const schedule = () => {
    if (ended) return
    const left = session.limit - session.nano
    const ms = left > 0n ? Number((left * 1000n) / nanoPerUnit) : 0
    timer = setTimeout(tick, Math.max(1, Math.min(tickMs, ms)))
    timer.unref?.()
  }
  /** Per second: bills the time so far while it is covered; else the next block, or the end. */
  function tick() {
    if (ended) return
    const delta = elapsedNano() - session.nano
    if (session.fits(delta)) {
      session.nano += delta
      watch()
      return schedule()
    }
    // Used up: wait for the block under way (or ask for one); the time past the reserve is never charged.
    session.refill(delta).then((ok) => {
      if (ended) return
      const late = elapsedNano() - session.nano
      if (!ok && !session.fits(late)) return exhausted()
      if (session.fits(late)) session.nano += late
      watch()
      schedule()
    }, input.onError)
  }
  if (unit === 'second') schedule()

  let resolveClosed!: (value: { charged: bigint; balance: bigint }) => void
  const closed = new Promise<{ charged: bigint; balance: bigint }>((resolve) => {
    resolveClosed = resolve
  })
  /** The connection ended (or is ending): charge what was sent, release the rest. */
  function finish() {
    if (ended) return
    ended = true
    watchAt = maxNano
    if (timer) clearTimeout(timer)
    // Charged for the time open; `close` never captures beyond what was reserved.
    if (unit === 'second') session.nano = elapsedNano()
    const unsent = waiting.slice(head)
    waiting = []
    head = 0
    for (const queued of unsent) queued.cb?.(new Error('the credit ran out before this message was sent'))
    const reserved = session.covered()
    session.close().then(
      ({ charged, balance }) => {
        try {
          input.onClosed({
            reserved,
            captured: charged,
            returned: reserved - charged,
            balance,
            decimals,
            refund: 'credit',
          })
        } finally {
          resolveClosed({ charged, balance })
        }
      },
      (error) => {
        input.onError(error)
        resolveClosed({ charged: session.captured, balance: 0n })
      },
    )
  }
  ws.on('close', finish)
  // A ledger write failed under the stream (a capture, keeping a reservation): it stops here.
  session.onError = (error) => {
    try {
      input.onError(error)
    } catch {}
  }
  session.onFailure = () => {
    if (ended) return
    ws.close(paymentCloseCode, 'credit_unavailable: the credit could not be charged, connect again')
    finish()
  }
  checkLow()
  rearm()
  return {
    view: {
      charged: () => session.charged(),
      units: () => Number((session.nano * 1000n) / nanoPerUnit) / 1000,
      closed,
    },
    end: finish,
  }
}
