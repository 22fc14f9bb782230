import { type PaymentRequirements, X402Error } from '@402x/core'

/**
 * A 402 handed to the framework's error handler (`errors: 'next'`), for sellers who render
 * payment-required answers their own way. The `PAYMENT-REQUIRED` header is already set on
 * the response, so x402 clients can still pay.
 *
 * @example
 * app.use('/api/*', (err, req, res, next) => {
 *   if (err.code === 'PAYMENT_REQUIRED') res.status(402).json({ price: err.price, paymentAddress: err.address })
 *   else next(err)
 * })
 */
export class PaymentRequiredError extends X402Error {
  override readonly name = 'PaymentRequiredError'
  override readonly code = 'PAYMENT_REQUIRED'
  /** 402, for error handlers that read `statusCode` (`status` is 402 too). */
  readonly statusCode = 402
  /** This request's price in dollars, e.g. "0.01". */
  readonly price: string
  /** The address to pay (the first accepted option's `payTo`). */
  readonly address: string
  readonly network: string
  /** Atomic units of the first option's asset. */
  readonly amount: string
  /** Every accepted option (x402 v2 requirements). */
  readonly accepts: PaymentRequirements[]
  /** Why a payment was refused, when one was sent (a reason code such as `invalid_exact_evm_signature`). */
  readonly reason: string | undefined
  /** The response 402x would have sent. */
  readonly response: Response

  constructor(options: {
    price: string
    accepts: PaymentRequirements[]
    response: Response
    error?: { reason: string; message: string } | undefined
  }) {
    const main = options.accepts[0]
    super('PAYMENT_REQUIRED', {
      message: options.error ? `payment refused: ${options.error.message}` : `payment required: $${options.price}`,
      details: { price: options.price, ...(options.error ? { reason: options.error.reason } : {}) },
    })
    this.price = options.price
    this.address = main?.payTo ?? ''
    this.network = main?.network ?? ''
    this.amount = main?.amount ?? ''
    this.accepts = options.accepts
    this.reason = options.error?.reason
    this.response = options.response
  }
}
