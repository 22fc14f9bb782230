import type { NextRequest } from 'next/server.js'
import { serveDecision } from '../paywall/serveDecision.js'
import { type NextPaywallOptions, nextPaywall } from './nextPaywall.js'

/** An App Router route handler: `(request, { params })`, `params` a Promise in Next 15+. */
type RouteHandler<Rest extends unknown[]> = (request: NextRequest, ...rest: Rest) => Response | Promise<Response>

const unpriced = (method: string, path: string) =>
  Response.json(
    {
      error: 'invalid_config',
      message: `${method} ${path} reached a route handler wrapped with withX402(), but no route of its table prices that URL (a rewrite, or a route missing from \`routes\`): add the URL callers use to \`routes\`, or wrap the handler with { price }. Nothing was served or charged.`,
    },
    { status: 500, headers: { 'cache-control': 'no-store' } },
  )

/**
 * Guards a Next.js App Router route handler. This is where a payment is verified and
 * settled: the handler's response (streamed or not) is read in full first, so nothing
 * reaches the caller before the payment settles; a handler that throws answers 500, and a
 * status ≥ 400 is charged nothing.
 *
 * A wrapped handler is never served free. With `{ price }`, every request that reaches it
 * pays that price. With `{ routes }` (the table `x402NextMiddleware` uses), the URL the
 * caller asked for picks the price, and a URL the table does not price is refused with a
 * 500: a handler only sees that URL, not its own route, so a rewrite from an unlisted path
 * would otherwise serve it unpaid.
 *
 * The paywall is made on the first request, not at import, so `next build` needs no
 * payment settings; a missing setting fails that first request with its message.
 *
 * Limits and free tiers counted by IP use `request.ip` where Next sets it (Next 14), else the
 * `X-Forwarded-For` entry the proxy in front appended (`trustedHops`, 1 by default: the
 * rightmost), never one the caller wrote; or `ip`. Without one, such requests share one
 * count, and a warning says so once.
 *
 * @example
 * // app/api/generate/route.ts
 * import { withX402 } from '402x-api/next'
 * export const POST = withX402({ price: 0.01 }, async (request) => Response.json({ ok: true }))
 */
export function withX402<Rest extends unknown[]>(
  options: NextPaywallOptions,
  handler: RouteHandler<Rest>,
): (request: NextRequest, ...rest: Rest) => Promise<Response> {
  const paywall = nextPaywall(options)
  return async (request, ...rest) => {
    const path = new URL(request.url).pathname
    const route = paywall().match(request.method, path)
    if (route === undefined && request.method !== 'OPTIONS') return unpriced(request.method, path)
    const run = () => handler(request, ...rest)
    return serveDecision(paywall(), request, route ?? undefined, { ip: paywall.ipOf(request) }, { run, pass: run })
  }
}
