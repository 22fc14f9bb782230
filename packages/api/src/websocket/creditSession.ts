import { randomUUID } from 'node:crypto'
import type { CreditService } from '../credits/creditService.js'

/** One billed unit (a message, a KB, a second) in nano-units: what a session counts in. */
export const nanoPerUnit = 1_000_000_000n

export type CreditSessionInput = {
  service: CreditService
  account: string
  /** Atomic units per billed unit, scaled by 10^9 (a price below one atomic unit stays exact). */
  unitPrice: bigint
  /** Atomic units charged at the start (the connect price). */
  fixed: bigint
  /** Atomic units reserved at a time. */
  block: bigint
  ttlMs: number
}

type Block = { id: string; amount: bigint }

/**
 * A connection's credit, drawn as it goes: reserved in blocks in the credit ledger (so a
 * crash leaves reservations that expire back to the caller), counted in process with no I/O
 * per message, captured block by block, and on close captured for exactly what was sent,
 * the rest released.
 */
export class CreditSession {
  /** Nano-units sent so far. */
  nano = 0n
  /** Atomic units captured in the ledger so far. */
  captured = 0n
  /** Atomic units of full blocks whose capture is under way (counted in `captured` once written). */
  capturing = 0n
  /** Atomic units of open reservations. */
  open = 0n
  blocks: Block[] = []
  /** The account's balance outside this session, as last read. */
  available = 0n
  refilling: Promise<boolean> | undefined
  closing: Promise<{ charged: bigint; balance: bigint }> | undefined
  /** Captures of full blocks under way (each leaves the set once written: a long stream keeps none). */
  private readonly writes = new Set<Promise<unknown>>()

  /** Keeps open reservations from expiring while the connection lives (every ttl/3). */
  private keepAlive: ReturnType<typeof setInterval> | undefined
  /**
   * A ledger write (capture, extend) failed under the open connection: the stream must stop
   * (the meter closes it with 4402). Set by the meter; called at most once.
   */
  onFailure: ((error: unknown) => void) | undefined
  private failed = false

  constructor(readonly input: CreditSessionInput) {}

  /** Atomic units held for this session: captured, being captured and reserved. */
  covered(): bigint {
    return this.captured + this.capturing + this.open
  }

  /** Where a failed write is told (the paywall's `error` event); never throws. */
  onError: ((error: unknown) => void) | undefined

  private report(error: unknown): void {
    try {
      this.onError?.(error)
    } catch {}
  }

  private fail(error: unknown): void {
    this.report(error)
    if (this.failed) return
    this.failed = true
    this.onFailure?.(error)
  }

  /** Nothing was served (the handshake failed): nothing is charged, the connect price neither. */
  waived = false

  /** Atomic units owed for `nano` nano-units (the connect price included), rounded half-up. */
  chargeFor(nano: bigint): bigint {
    if (this.waived) return 0n
    const scale = nanoPerUnit * nanoPerUnit
    return this.input.fixed + (nano * this.input.unitPrice + scale / 2n) / scale
  }

  /** Releases everything: the connection never opened. */
  cancel(): Promise<{ charged: bigint; balance: bigint }> {
    this.waived = true
    this.nano = 0n
    this.limit = -1n
    return this.close()
  }

  charged(): bigint {
    return this.chargeFor(this.nano)
  }

  /**
   * The most nano-units that atomic units `covered` pay for (the inverse of {@link chargeFor}),
   * so that the hot path compares nano-units only; −1 when not even the connect price is covered.
   */
  nanoFor(covered: bigint): bigint {
    if (this.waived) return maxNano
    const room = covered - this.input.fixed
    if (room < 0n) return -1n
    const scale = nanoPerUnit * nanoPerUnit
    // chargeFor(n) ≤ covered ⇔ n·p + S/2 < (room + 1)·S.
    return ((room + 1n) * scale - scale / 2n - 1n) / this.input.unitPrice
  }

  /** Nano-units the reserve covers: a send fits while `nano + n ≤ limit`. */
  limit = -1n

  /** Atomic units reserved and not yet owed. */
  left(): bigint {
    return this.covered() - this.charged()
  }

  /** Whether `nano` more fit in what is reserved. */
  fits(nano: bigint): boolean {
    return this.nano + nano <= this.limit
  }

  add(nano: bigint): void {
    this.nano += nano
    this.captureUsed()
  }

  /** Blocks wholly used are captured now, so that the ledger follows the stream. */
  captureUsed(): void {
    let first = this.blocks[0]
    while (first && this.blocks.length > 1 && this.charged() >= this.captured + this.capturing + first.amount) {
      this.captureFirst(first)
      first = this.blocks[0]
    }
  }

  /** The nano-units past which a block is wholly used (then {@link captureUsed}). */
  captureAt(): bigint {
    const first = this.blocks[0]
    return first && this.blocks.length > 1 ? this.nanoFor(this.captured + this.capturing + first.amount - 1n) : maxNano
  }

  /** A send that failed after it was counted: not charged. */
  remove(nano: bigint): void {
    this.nano = this.nano > nano ? this.nano - nano : 0n
  }

  /** Reserves the first block: the connect price and at least one unit. */
  async start(): Promise<{ ok: true } | { ok: false; available: bigint }> {
    const { service, account, fixed, block } = this.input
    const available = await service.available(account)
    const least = this.chargeFor(nanoPerUnit)
    if (available < least || available === 0n) return { ok: false, available }
    const ok = await this.reserve(minOf(available, fixed + block))
    return ok ? { ok: true } : { ok: false, available: await service.available(account) }
  }

  /**
   * Reserves one more block, or what `waitingNano` more need if that is more (what is
   * available, at most); `false` when there is none.
   */
  refill(waitingNano = 0n): Promise<boolean> {
    // Closing: its reserve is being captured and released, and no block is added under it.
    if (this.closing) return Promise.resolve(false)
    this.refilling ??= (async () => {
      try {
        const available = await this.input.service.available(this.input.account)
        this.available = available
        if (available <= 0n) return false
        const needed = this.chargeFor(this.nano + waitingNano) - this.covered()
        return await this.reserve(minOf(available, maxOf(needed, this.input.block)))
      } catch (error) {
        // The store failed, not the credit: the stream stops as for any failed write (4402 credit_unavailable).
        this.fail(error)
        return false
      } finally {
        this.refilling = undefined
      }
    })()
    return this.refilling
  }

  private async reserve(amount: bigint): Promise<boolean> {
    const { service, account, ttlMs } = this.input
    const held = await service.reserve(account, amount, ttlMs)
    if (!held.ok) return false
    if (this.closing) {
      // Closed while it was reserved (a start racing a handshake that failed): nothing is held for it.
      await service.release(account, held.reservationId, 'websocket_closed')
      return false
    }
    this.blocks.push({ id: held.reservationId, amount })
    this.open += amount
    this.limit = this.nanoFor(this.covered())
    this.startKeepAlive()
    this.available = await service.available(account)
    return true
  }

  private captureFirst(first: Block) {
    this.blocks.shift()
    this.open -= first.amount
    this.capturing += first.amount
    const { service, account } = this.input
    const write: Promise<unknown> = Promise.resolve()
      .then(() => service.capture(account, first.id, first.amount))
      .then(
        () => {
          this.capturing -= first.amount
          this.captured += first.amount
        },
        (error) => {
          this.capturing -= first.amount
          this.fail(error)
        },
      )
      .finally(() => this.writes.delete(write))
    this.writes.add(write)
  }

  /** A reservation lives `ttlMs` unless extended: an open connection extends its blocks every ttl/3. */
  private startKeepAlive(): void {
    if (this.keepAlive || this.closing) return
    const { service, ttlMs } = this.input
    this.keepAlive = setInterval(
      () => {
        // A store that throws at once (closed) fails as one that rejects.
        for (const block of this.blocks)
          Promise.resolve()
            .then(() => service.extend(block.id, ttlMs))
            .then(
              // An answer that comes back after the close (which captured or released the block) says nothing.
              (ok) => {
                if (!ok && !this.closing)
                  this.fail(new Error(`the credit reservation ${block.id} expired under an open stream`))
              },
              (error) => {
                if (!this.closing) this.fail(error)
              },
            )
      },
      Math.max(10, ttlMs / 3),
    )
    this.keepAlive.unref?.()
  }

  /**
   * Captures what was sent (never more than was reserved) and releases the rest; resolves
   * with the charge and the balance left. Once, whoever asks.
   */
  close(): Promise<{ charged: bigint; balance: bigint }> {
    this.closing ??= (async () => {
      if (this.keepAlive) clearInterval(this.keepAlive)
      this.keepAlive = undefined
      await this.refilling
      const { service, account } = this.input
      await Promise.allSettled([...this.writes])
      let owed = minOf(this.charged(), this.captured + this.open) - this.captured
      // Each block on its own: one failed write neither stops the others nor the close.
      for (const block of this.blocks) {
        const take = owed > 0n ? minOf(owed, block.amount) : 0n
        owed -= take
        try {
          if (take > 0n) await service.capture(account, block.id, take)
          else await service.release(account, block.id, 'websocket_closed')
          this.captured += take
        } catch (error) {
          this.report(error)
        }
      }
      this.open = 0n
      this.blocks = []
      this.limit = -1n
      // Full blocks are captured as they are used; a send counted in one and then failed (the
      // socket went away under it) is not owed: what was captured beyond the charge goes back.
      const over = this.captured - this.charged()
      if (over > 0n) {
        try {
          await service.refund(account, over, `websocket:${randomUUID()}`, 'websocket sends not delivered')
          this.captured -= over
        } catch (error) {
          this.report(error)
        }
      }
      let balance = 0n
      try {
        balance = await service.available(account)
      } catch (error) {
        this.report(error)
      }
      return { charged: this.captured, balance }
    })()
    return this.closing
  }
}

/** Beyond any count: no threshold. */
export const maxNano = 2n ** 120n

const minOf = (a: bigint, b: bigint) => (a < b ? a : b)
const maxOf = (a: bigint, b: bigint) => (a > b ? a : b)
