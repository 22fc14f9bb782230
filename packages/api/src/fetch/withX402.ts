import { checkPaywallOptions } from '../config/checkPaywallOptions.js'
import { fetchAddressRules } from '../config/paywallOptionRules.js'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import { serveDecision } from '../paywall/serveDecision.js'
import type { PaywallOptions } from '../paywall/types.js'
import { addressOf, type FetchAddressOptions } from './fetchAddress.js'

type FetchHandler<Rest extends unknown[]> = (request: Request, ...rest: Rest) => Response | Promise<Response>

/**
 * Guards a fetch-style handler (`(request) => Response`: Bun, Deno, Cloudflare-style
 * runtimes, Hono's `app.fetch` …). The handler's response is read in full before the
 * payment settles; a handler that throws answers 500 and is charged nothing.
 *
 * Limits and free tiers counted by IP use the address the runtime passes the handler (Bun's
 * server, Deno's `info`, Cloudflare's `cf-connecting-ip`), or `ip`. Without one, such
 * requests share one count, and a warning says so once.
 *
 * @example
 * import { withX402 } from '402x-api/fetch'
 * Bun.serve({ fetch: withX402({ price: 0.01 }, (request, server) => Response.json({ ok: true })) })
 */
export function withX402<Rest extends unknown[]>(
  options: PaywallOptions & FetchAddressOptions<Rest>,
  handler: FetchHandler<Rest>,
): FetchHandler<Rest> & { paywall: Paywall } {
  checkPaywallOptions(options, 'withX402() (fetch)', fetchAddressRules)
  const { ip, ...paywallOptions } = options
  const paywall = createPaywall(paywallOptions as PaywallOptions)
  const ipOf = addressOf(ip)
  const guarded = async (request: Request, ...rest: Rest): Promise<Response> => {
    const route = paywall.match(request.method, new URL(request.url).pathname)
    if (route === undefined) return handler(request, ...rest)
    const run = () => handler(request, ...rest)
    return serveDecision(paywall, request, route ?? undefined, { ip: ipOf(request, rest) }, { run, pass: run })
  }
  return Object.assign(guarded, { paywall })
}
