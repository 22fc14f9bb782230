import { type Attributes, SpanStatusCode, trace } from '@opentelemetry/api'

/** 402x's tracer: a no-op until the seller registers an OpenTelemetry SDK. */
export const tracer = () => trace.getTracer('402x-api')

/** What {@link timed} reports a call to. */
export type TimedReport = {
  /** The call ended (`error`: it threw or rejected), after `seconds`. */
  done(seconds: number, error: unknown, result: unknown): void
  /** Attributes from the call's result, for its span. */
  attributes?(result: unknown): Attributes
}

/**
 * Runs `fn` inside an active span `name` (a child of the span active at the call), times
 * it and reports the end; a sync result or a promise alike. The span carries `attributes`
 * (never secrets) and is marked an error when `fn` throws or rejects.
 *
 * @example
 * const result = await timed('402x.facilitator.verify', { 'x402.network': network }, report, () => f.verify(p, r))
 */
export function timed<T>(name: string, attributes: Attributes, report: TimedReport, fn: () => T): T {
  return tracer().startActiveSpan(name, { attributes }, (span) => {
    const start = performance.now()
    const end = (error: unknown, result: unknown) => {
      report.done((performance.now() - start) / 1000, error, result)
      if (error !== undefined) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) })
        span.setAttribute('error.type', (error as { code?: string })?.code ?? (error as Error)?.name ?? 'Error')
      } else if (report.attributes) span.setAttributes(report.attributes(result))
      span.end()
    }
    let result: T
    try {
      result = fn()
    } catch (error) {
      end(error ?? new Error('thrown'), undefined)
      throw error
    }
    if (result && typeof (result as { then?: unknown }).then === 'function') {
      return (result as unknown as Promise<unknown>).then(
        (value) => {
          end(undefined, value)
          return value
        },
        (error) => {
          end(error ?? new Error('rejected'), undefined)
          throw error
        },
      ) as T
    }
    end(undefined, result)
    return result
  })
}
