import type { FacilitatorLike } from '@402x/facilitator/client'
import type { Logger } from 'pino'
import type { PaywallMetrics } from './createMetrics.js'
import { timed } from './timed.js'

type Operation = 'supported' | 'verify' | 'settle' | 'reconcile'

/**
 * The facilitator, each call timed (metrics), traced (a span `402x.facilitator.<op>`) and
 * its failures counted and logged. Everything else of the object is the facilitator's own.
 * Spans carry the network, scheme, amount and outcome: never the payload or its signature.
 *
 * @example
 * config.facilitator = instrumentFacilitator(config.facilitator, { metrics, logger })
 */
export function instrumentFacilitator(
  facilitator: FacilitatorLike,
  observe: { metrics: PaywallMetrics | undefined; logger: Logger | undefined },
): FacilitatorLike {
  const { metrics, logger } = observe
  const call = <T>(operation: Operation, requirements: unknown, fn: () => Promise<T>): Promise<T> => {
    const r = (requirements ?? {}) as { network?: string; scheme?: string; amount?: string; maxAmountRequired?: string }
    const attributes = {
      'x402.operation': operation,
      ...(r.network ? { 'x402.network': r.network } : {}),
      ...(r.scheme ? { 'x402.scheme': r.scheme } : {}),
      ...((r.amount ?? r.maxAmountRequired) ? { 'x402.amount': String(r.amount ?? r.maxAmountRequired) } : {}),
    }
    return timed(
      `402x.facilitator.${operation}`,
      attributes,
      {
        done(seconds, error, value) {
          const answer = value as { isValid?: boolean; success?: boolean } | undefined
          const result =
            error !== undefined ? 'error' : answer?.isValid === false || answer?.success === false ? 'refused' : 'ok'
          metrics?.facilitatorDuration.observe({ operation, result }, seconds)
          if (operation === 'settle') metrics?.settlementDuration.observe({ network: r.network ?? '', result }, seconds)
          if (error !== undefined) {
            metrics?.facilitatorErrors.inc({ operation })
            logger?.warn(
              {
                operation,
                network: r.network,
                code: (error as { code?: string })?.code,
                err: (error as Error)?.message,
              },
              `facilitator ${operation} failed: ${(error as Error)?.message ?? error}`,
            )
          }
        },
        attributes(value) {
          const answer = (value ?? {}) as Record<string, unknown>
          const out: Record<string, string | boolean> = {}
          if (typeof answer.isValid === 'boolean') out['x402.valid'] = answer.isValid
          if (typeof answer.success === 'boolean') out['x402.success'] = answer.success
          const reason = answer.invalidReason ?? answer.errorReason
          if (typeof reason === 'string') out['x402.reason'] = reason
          if (typeof answer.transaction === 'string' && answer.transaction) out['x402.transaction'] = answer.transaction
          return out
        },
      },
      fn,
    )
  }
  const wrapped = Object.create(facilitator) as FacilitatorLike
  wrapped.supported = () => call('supported', undefined, () => facilitator.supported())
  wrapped.verify = (payload, requirements) =>
    call('verify', requirements, () => facilitator.verify(payload, requirements))
  wrapped.settle = (payload, requirements) =>
    call('settle', requirements, () => facilitator.settle(payload, requirements))
  wrapped.reconcile = (request) => call('reconcile', request.paymentRequirements, () => facilitator.reconcile(request))
  return wrapped
}
