import type { Logger } from 'pino'
import type { PaywallMetrics } from './createMetrics.js'
import { timed } from './timed.js'

/** The methods whose first argument is a payment id. */
const byId = new Set(['get', 'transition', 'setUndelivered'])

/** Every method name of `object`, its own and its prototypes' (a class instance's too). */
function methodsOf(object: object): string[] {
  const names = new Set<string>()
  for (let o: object | null = object; o && o !== Object.prototype; o = Object.getPrototypeOf(o))
    for (const name of Object.getOwnPropertyNames(o))
      if (name !== 'constructor' && typeof (object as Record<string, unknown>)[name] === 'function') names.add(name)
  return [...names]
}

/**
 * A store (the payments ledger, or any store object) with each method call timed (metrics
 * `x402_store_duration_seconds`), traced (a span `402x.<store>.<method>`) and its failures
 * counted and logged. Every method is forwarded, also those added later to the store's type:
 * the wrapper knows none of them by name. Spans carry the store and method, and the payment
 * id and state of a ledger call: never a payload, a signature or a token.
 *
 * @example
 * config.ledger = instrumentStore('ledger', config.ledger, { metrics, logger })
 */
export function instrumentStore<T extends object>(
  store: string,
  target: T,
  observe: { metrics: PaywallMetrics | undefined; logger: Logger | undefined },
): T {
  const { metrics, logger } = observe
  const wrapped = Object.create(target) as Record<string, unknown>
  for (const operation of methodsOf(target)) {
    const method = (target as Record<string, (...args: unknown[]) => unknown>)[operation] as (
      ...args: unknown[]
    ) => unknown
    const report = {
      done(seconds: number, error: unknown) {
        metrics?.storeDuration.observe({ store, operation }, seconds)
        if (error === undefined) return
        metrics?.storeErrors.inc({ store, operation })
        logger?.error(
          { store, operation, code: (error as { code?: string })?.code, err: (error as Error)?.message },
          `${store} ${operation} failed: ${(error as Error)?.message ?? error}`,
        )
      },
    }
    wrapped[operation] = (...args: unknown[]) => {
      const first = args[0]
      const attributes = {
        'db.operation.name': operation,
        'x402.store': store,
        // A payment id (insert's record, transition's id): an identifier, no secret.
        ...(typeof first === 'string' && byId.has(operation)
          ? { 'x402.payment_id': first }
          : operation === 'insert' && typeof (first as { id?: unknown })?.id === 'string'
            ? { 'x402.payment_id': (first as { id: string }).id }
            : {}),
        ...(typeof args[1] === 'string' && operation === 'transition' ? { 'x402.state': args[1] } : {}),
      }
      return timed(`402x.${store}.${operation}`, attributes, report, () => method.apply(target, args))
    }
  }
  return wrapped as T
}
