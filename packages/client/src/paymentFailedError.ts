import { X402Error } from '@402x/core'

/**
 * A payment the server refused or could not settle, or a 402 this client cannot pay.
 *
 * @example
 * try { await pay(url) } catch (e) { if (e instanceof PaymentFailedError) console.error(e.details) }
 */
export class PaymentFailedError extends X402Error {
  override readonly name = 'PaymentFailedError'
  constructor(message: string, details: Record<string, unknown>) {
    super('payment_failed', { message, details })
  }
}
