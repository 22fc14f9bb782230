import { randomUUID } from 'node:crypto'
import type { Hold } from '../credits/creditService.js'
import { faultResponse } from '../paywall/responses.js'
import { receiptJson } from '../paywall/streamMeter.js'
import type { CreditReceipt, Decision } from '../paywall/types.js'
import { creditService, type PaywallRuntime, receiptEvent, stamp } from './runtime.js'

/** A bearer request's credit, held: charged or released when the handler answers. */
export type FastDraw = {
  /**
   * After the handler: charges (status < 400) or releases (≥ 400) and gives the
   * `X-402x-Receipt` value, or an error answer when the charge could not be written.
   */
  finish(status: number, resource: () => string): Promise<string | Response>
  /**
   * {@link FastDraw.finish} without a promise or a closure (the Node hot path):
   * `done(context, result)` once the charge is written. `resource` (the URL, or a function
   * giving it) is read only for `receipt` listeners.
   */
  settle<T>(
    status: number,
    context: T,
    done: (context: T, result: string | Response) => void,
    resource: string | (() => string),
  ): void
  /** The handler never answered, or the caller left: release, charge nothing. */
  drop(): void
  /** Charged, but the response never reached the caller: the charge goes back to credit. */
  undelivered(): Promise<void>
}

/** A request with a price known up front, paid from credit held in memory. */
export function creditProceed(rt: PaywallRuntime, hold: Hold, resource: string): Decision {
  const draw = new CreditDraw(rt, hold)
  return {
    type: 'proceed',
    finish: async (response) => {
      const receipt = await draw.finish(response.status, () => resource)
      return typeof receipt === 'string' ? stamp(response, receipt) : receipt
    },
    abort: async () => draw.drop(),
    undelivered: () => draw.undelivered(),
  }
}

/**
 * One request's held credit: charged when the handler answers below 400, released
 * otherwise, given back once if the answer never left. A class: the hot path allocates
 * one object, not closures.
 */
export class CreditDraw implements FastDraw {
  charged = false
  context: unknown
  done: ((context: unknown, result: string | Response) => void) | undefined
  resource: string | (() => string) = ''
  constructor(
    readonly rt: PaywallRuntime,
    readonly hold: Hold,
  ) {}

  drop() {
    creditService(this.rt).drop(this.hold)
  }

  async undelivered() {
    if (!this.charged) return
    this.charged = false
    const { account, amount } = this.hold
    await creditService(this.rt)
      .refund(account, amount, `undelivered:${randomUUID()}`, 'response not delivered')
      .catch((error) => this.rt.events.emit('error', error))
  }

  finish(status: number, resource: () => string): Promise<string | Response> {
    return new Promise((resolve) => this.settle(status, resolve, (resolve_, result) => resolve_(result), resource))
  }

  settle<T>(
    status: number,
    context: T,
    done: (context: T, result: string | Response) => void,
    resource: string | (() => string),
  ) {
    const service = creditService(this.rt)
    this.context = context
    this.done = done as (context: unknown, result: string | Response) => void
    this.resource = resource
    if (status < 400) return service.chargeThen(this.hold, this.hold.amount, this, afterCharge)
    service.drop(this.hold)
    service
      .available(this.hold.account)
      .then(
        (balance) => ({ ...this.receipt(0n, balance), reason: 'handler_error' as const }),
        (error) => faultResponse(error),
      )
      .then((result) => this.tell(result))
      .catch((error) => this.rt.events.emit('error', error))
  }

  receipt(captured: bigint, balance: bigint): CreditReceipt {
    const reserved = this.hold.amount
    return { reserved, captured, returned: reserved - captured, balance, decimals: this.rt.decimals, refund: 'credit' }
  }

  tell(result: CreditReceipt | Response) {
    const done = this.done as (context: unknown, result: string | Response) => void
    if (result instanceof Response) return done(this.context, result)
    if (this.rt.events.listenerCount('receipt') > 0) {
      const resource = typeof this.resource === 'string' ? this.resource : this.resource()
      receiptEvent(this.rt, result, resource, this.hold.account)
    }
    done(this.context, receiptJson(result))
  }
}

/** The charge of a draw is written (or refused): its receipt, or the fault. */
function afterCharge(draw: CreditDraw, error: unknown, balance: bigint) {
  if (error) return draw.tell(faultResponse(error))
  draw.charged = true
  draw.tell(draw.receipt(draw.hold.amount, balance))
}
