import { checkPaywallOptions } from '../config/checkPaywallOptions.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import { serveDecision } from '../paywall/serveDecision.js'
import type { PaywallOptions } from '../paywall/types.js'

type FetchHandler<Rest extends unknown[]> = (request: Request, ...rest: Rest) => Response | Promise<Response>

/**
 * Guards a fetch-style handler (`(request) => Response`: Bun, Deno, Cloudflare-style
 * runtimes, Hono's `app.fetch` …). The handler's response is read in full before the
 * payment settles; a handler that throws answers 500 and is charged nothing.
 *
 * @example
 * import { withX402 } from '402x-api/fetch'
 * export default { fetch: withX402({ price: 0.01 }, (request) => Response.json({ ok: true })) }
 */
export function withX402<Rest extends unknown[]>(
  options: PaywallOptions,
  handler: FetchHandler<Rest>,
): FetchHandler<Rest> & { paywall: Paywall } {
  checkPaywallOptions(options, 'withX402() (fetch)')
  const paywall = createPaywall(options)
  const guarded = async (request: Request, ...rest: Rest): Promise<Response> => {
    const route = paywall.match(request.method, new URL(request.url).pathname)
    if (route === undefined) return handler(request, ...rest)
    const run = () => handler(request, ...rest)
    return serveDecision(paywall, request, route ?? undefined, undefined, { run, pass: run })
  }
  return Object.assign(guarded, { paywall })
}
