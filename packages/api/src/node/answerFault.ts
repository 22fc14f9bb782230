import type { ServerResponse } from 'node:http'
import { X402Error } from '@402x/core'
import type { Paywall } from '../paywall/createPaywall.js'
import { faultResponse } from '../paywall/responses.js'
import { sendWebResponse } from './captureResponse.js'
import type { Next } from './nodeMiddleware.js'

/**
 * A fault of 402x's own (a store down, a ledger file from a newer release) answered as the
 * pipeline answers one: JSON with its reason, 503 and `Retry-After` when a retry can help,
 * never the framework's error page (Express's shows the stack). Nothing was served or
 * charged. Any other error goes to the app's error handler, as before.
 *
 * @example
 * full().catch((error) => answerFault(paywall, res, next, error))
 */
export function answerFault(paywall: Paywall, res: ServerResponse, next: Next, error: unknown): void {
  if (!(error instanceof X402Error) || res.headersSent) {
    next(error)
    return
  }
  paywall.events.emit('error', error)
  sendWebResponse(res, faultResponse(error)).catch(next)
}
