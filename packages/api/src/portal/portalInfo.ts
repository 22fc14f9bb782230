import { createOpenApi } from '../discovery/createOpenApi.js'
import { creditsOffer } from '../paywall/credits.js'
import { pricedPaywalls } from './appPortal.js'
import { type PortalHandler, portalJson } from './portalContext.js'

/**
 * `GET /api/openapi.json`: the OpenAPI document of every priced route of the app (each of its
 * paywalls, appPaywalls.ts), priced operations marked `x-payment-info`.
 */
export const openApi: PortalHandler = async ({ rt, origin }) => {
  const [first, ...more] = pricedPaywalls(rt)
  return portalJson(200, createOpenApi({ paywall: first ?? { config: rt.config }, more, serverUrl: origin }))
}

/** `GET /api/info`: what the page needs to know about this API, public. */
export const info: PortalHandler = async ({ rt, origin, portal }) => {
  const { config } = rt
  const main = config.accepts[0]
  const plans = rt.adminKeys ? await rt.adminKeys.plans() : []
  return portalJson(200, {
    network: config.network,
    asset: main ? { address: main.asset.address, decimals: main.asset.decimals, ...main.asset.eip712 } : undefined,
    payTo: main?.payTo,
    credits: config.credits ? creditsOffer(config.credits, origin) : null,
    signIn: { wallet: true, apiKey: Boolean(config.keys) },
    selfServicePlans: plans.filter((p) => portal.selfServicePlans.includes(p.name)),
  })
}
