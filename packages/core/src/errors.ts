/**
 * Codes of faults (not protocol outcomes, which are data). One closed list; `httpStatus`
 * maps each to the status a server answers with.
 */
export const errorCodes = {
  invalid_money: { status: 500, retryable: false },
  invalid_config: { status: 500, retryable: false },
  invalid_request: { status: 400, retryable: false },
  request_too_large: { status: 413, retryable: false },
  payment_required: { status: 402, retryable: false },
  /**
   * `PaymentRequiredError`'s code (`errors: 'next'`), spelled as the seller's Express error
   * handler tests it: `if (err.code === 'PAYMENT_REQUIRED')`.
   */
  PAYMENT_REQUIRED: { status: 402, retryable: false },
  facilitator_unavailable: { status: 503, retryable: true },
  chain_unavailable: { status: 503, retryable: true },
  /**
   * The chain's node answered a call with an error that is not a payment's revert (those are
   * refusals): a limit, a nonce it will not take, an internal error. Retrying can help.
   */
  chain_rejected: { status: 503, retryable: true },
  store_unavailable: { status: 503, retryable: true },
  budget_exceeded: { status: 402, retryable: false },
  payment_failed: { status: 402, retryable: false },
  price_mismatch: { status: 500, retryable: false },
  /** A metered answer cost more than its route's `max` (`overMax: 'refuse'`): not served. */
  metered_over_max: { status: 502, retryable: false },
  /** A metered route's meter could not count its answer: not served, or a stream ended. */
  meter_failed: { status: 500, retryable: false },
  internal_error: { status: 500, retryable: false },
} as const

export type ErrorCode = keyof typeof errorCodes

export type X402ErrorOptions = {
  message: string
  details?: Record<string, unknown>
  cause?: unknown
  /** Overrides the code's default. */
  retryable?: boolean
}

/**
 * The base of every 402x fault. Carries a code from a closed list, details, the cause and
 * whether a retry can help.
 *
 * @example
 * throw new X402Error('invalid_config', { message: '`X402_PAY_TO` is not set: …' })
 */
export class X402Error extends Error {
  override readonly name: string = 'X402Error'
  readonly code: ErrorCode
  readonly details: Record<string, unknown>
  readonly retryable: boolean

  constructor(code: ErrorCode, options: X402ErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.details = options.details ?? {}
    this.retryable = options.retryable ?? errorCodes[code].retryable
  }

  /** The HTTP status a server answers with for this fault. */
  get status(): number {
    return errorCodes[this.code].status
  }
}

/** Maps any fault code to its HTTP status. */
export function httpStatus(code: ErrorCode): number {
  return errorCodes[code].status
}
