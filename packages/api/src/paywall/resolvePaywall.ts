import { findNetwork, X402Error } from '@402x/core'
import { createFacilitatorClient, type FacilitatorLike } from '@402x/facilitator/client'
import { checkPaywallOptions, maxTimeoutOf } from '../config/checkPaywallOptions.js'
import { checkPublicUrl } from '../config/publicUrl.js'
import {
  checkNetwork,
  isAddress,
  loadConfigSources,
  missingSetting,
  pickSetting,
  settings,
} from '../config/resolveConfig.js'
import type { Accept } from '../keys/options.js'
import { type ResolvedKeys, resolveKeys } from '../keys/resolveKeys.js'
import type { Ledger } from '../ledger/types.js'
import { openRedis } from '../ratelimit/openRateLimitStore.js'
import { type ResolvedLimit, resolveRateLimit } from '../ratelimit/resolveRateLimit.js'
import { resolveStores } from '../stores/resolveStores.js'
import type { Stores } from '../stores/types.js'
import { paywallWebhooks } from '../webhooks/paywallWebhooks.js'
import { type ResolvedCredits, resolveCredits } from './credits.js'
import { type Meter, resolveMeter } from './metering.js'
import { resolveFree, resolvePrice } from './resolveRoutePrice.js'
import { compileRoute, type RoutePattern } from './routes.js'
import type {
  AnyRequest,
  DiscoveryOptions,
  FreeTier,
  PaywallOptions,
  Price,
  PriceFunction,
  RouteOptions,
} from './types.js'

export type ResolvedAsset = { address: string; eip712: { name: string; version: string }; decimals: number }

/** One accepted way to pay, in the seller's order of preference. */
export type ResolvedOption = { network: string; asset: ResolvedAsset; payTo: string }

export type ResolvedRoute = {
  pattern?: RoutePattern
  /** A fixed price in dollars, e.g. "0.01"; `undefined` when it is computed per request. */
  price?: string
  /** A price computed per request (`price: (req, user) => …` or `pricePerMinute`). */
  priceFn?: PriceFunction
  /** Whether `priceFn` reads the payer's history (it takes a second argument). */
  usesPayer: boolean
  validate?: (req: AnyRequest) => unknown
  free?: Required<Omit<FreeTier, 'by'>> & { by: NonNullable<FreeTier['by']> }
  skip?: (req: AnyRequest) => boolean | Promise<boolean>
  /** Whether pricing code reads the request: adapters then parse the body before deciding. */
  needsRequest: boolean
  description: string
  mimeType: string
  maxTimeoutSeconds: number
  /** Metered routes: the price (`price`) is the maximum, reserved and settled after. */
  meter?: Meter
  /** A path refused with 400 before anything else (see `matchRequest`). */
  refusal?: { reason: string; message: string }
  /** Its rate limits (the middleware's shared one first), each taken before anything is verified. */
  limits?: ResolvedLimit[]
  /** How it may be paid (`accept`); `undefined`: every way there is. */
  accept?: Accept[]
  /** 402x's own operator endpoints (the admin API, the dashboard): never told as `request` events. */
  internal?: boolean
}

export type ResolvedDiscovery = {
  openapiPath: string | false
  manifestPath: string | false
  openapi?: Record<string, unknown>
  title: string
  version: string
}

export type ResolvedPaywall = {
  /** The main option's payTo, network and asset (`accepts[0]`). */
  payTo: string
  network: string
  asset: ResolvedAsset
  /** Every accepted option, the main one first. */
  accepts: ResolvedOption[]
  facilitator: FacilitatorLike
  ledger: Ledger
  /** Every store, as `resolveStores` chose them (`ledger` is `stores.ledger`). */
  stores: Stores
  /** Where the ledger is: a SQLite file or a PostgreSQL URL; `undefined` for a ledger given in code. */
  ledgerAt: { path: string } | { url: string } | undefined
  /** One route when the middleware guards everything it is mounted on. */
  routes: ResolvedRoute[]
  guardsAll: boolean
  errors: 'respond' | 'next'
  discovery: ResolvedDiscovery | false
  /** Prepaid credit; `undefined` when turned off. */
  credits: ResolvedCredits | undefined
  /** API keys and plans; `undefined` when not set. */
  keys: ResolvedKeys | undefined
  /** Whether the Node adapters put the caller in the request's headers. */
  trackingHeaders: boolean
  /** The API's public URL (`publicUrl`), without a trailing `/`; else the validated Host is used. */
  publicUrl: string | undefined
  /** The admin API's bearer token (`adminToken`, else `X402_ADMIN_TOKEN`); `undefined`: not set. */
  adminToken: string | undefined
  /** The webhooks from code and `402x.config.json`, checked, and how they are delivered. */
  webhooks: ReturnType<typeof paywallWebhooks>
  /**
   * Resolves one more route against these settings (its assets, stores and limits), as a
   * routes-table entry (`'POST /api/x'`, `{ price: 0.05 }`) is: for routes a caller of the
   * decision service declares. It is not added to `routes`; pass it to `handle`.
   */
  resolveRoute(source: string, route: RouteOptions | Price): ResolvedRoute
}

const where = 'x402Middleware()'

/** The title of a discovery document whose seller named none. */
export const defaultApiTitle = 'Paid API'

/** Paywalls made in this process: the default names of their limits' counts. */
let paywalls = 0

/**
 * Resolves every setting from options, the environment, `402x.config.json` and a running
 * `402x dev`, or stops with a message naming what is missing and how to set it.
 */
export function resolvePaywall(options: PaywallOptions): ResolvedPaywall {
  checkPaywallOptions(options)
  const sources = loadConfigSources()
  const payTo = pickSetting(settings.payTo, options.payTo, sources)
  if (!payTo) throw missingSetting(settings.payTo, '0xYourAddress', where)
  if (!isAddress(payTo.value)) {
    throw new X402Error('invalid_config', {
      message: `payTo "${payTo.value}" (from ${payTo.from}) is not an address: give the 0x… address that receives payments`,
    })
  }
  const networkSetting = pickSetting(settings.network, options.network, sources)
  if (!networkSetting) throw missingSetting(settings.network, 'eip155:8453', where)
  const network = checkNetwork(networkSetting.value, networkSetting.from)
  const asset = resolveAsset(options.asset, network, sources)
  const accepts: ResolvedOption[] = [{ network, asset, payTo: payTo.value }]
  for (const [i, option] of (options.accepts ?? []).entries()) {
    const optionPayTo = option.payTo ?? payTo.value
    if (!isAddress(optionPayTo)) {
      throw new X402Error('invalid_config', {
        message: `accepts[${i}].payTo "${optionPayTo}" is not an address: give the 0x… address that receives payments`,
      })
    }
    const optionNetwork = checkNetwork(option.network, `accepts[${i}].network`)
    accepts.push({
      network: optionNetwork,
      asset: resolveAsset(option.asset, optionNetwork, sources, `accepts[${i}]`),
      payTo: optionPayTo,
    })
  }
  const facilitator = resolveFacilitator(options, sources)
  // Checked before any store is opened: a bad webhook leaves nothing to close.
  const webhooks = paywallWebhooks(options, sources.file, sources.env, network)
  const { ledgerPath, ledgerUrl, ...stores } = resolveStores(
    {
      ledger: options.ledger,
      locks: options.locks,
      creditsPath: options.credits ? options.credits.path : undefined,
      stores: options.stores,
    },
    sources.env,
    sources.file,
  )
  const { ledger } = stores
  // Redis clients opened for a limit's own `store`: let go of with the paywall's stores.
  const opened: (() => Promise<void>)[] = []
  const releaseStores = stores.release
  stores.release = async () => {
    await releaseStores()
    for (const release of opened.splice(0)) await release()
  }

  const limitsOf = (option: RouteOptions['rateLimit'], name: string, scope: string) =>
    (Array.isArray(option) ? option : option ? [option] : []).map((limit, i, all) =>
      resolveRateLimit(limit, {
        where: `${name} rateLimit${all.length > 1 ? `[${i}]` : ''}`,
        scope,
        store: stores.rateLimits,
        onStoreError: 'fail-closed',
        openStore: (url) => {
          const redis = openRedis(url, `${name} rateLimit.store`)
          opened.push(redis.release)
          return redis.store
        },
      }),
    )
  // With a routes table, the middleware's own `rateLimit` is one limit all its routes share.
  const shared = options.routes ? limitsOf(options.rateLimit, where, `x402:${++paywalls}`) : []
  const toRoute = (route: RouteOptions, name: string, pattern?: RoutePattern): ResolvedRoute => {
    const limits = [...shared, ...limitsOf(route.rateLimit, name, pattern ? pattern.source : `x402:${++paywalls}`)]
    const meter = resolveMeter(route, name, asset.decimals)
    const priced = meter ? { price: meter.max, usesPayer: false } : resolvePrice(route, name, accepts)
    const free = route.free ? resolveFree(route.free, name) : undefined
    return {
      ...(pattern ? { pattern } : {}),
      ...priced,
      ...(route.validate ? { validate: route.validate } : {}),
      ...(free ? { free } : {}),
      ...(route.skip ? { skip: route.skip } : {}),
      needsRequest: Boolean(
        priced.priceFn ||
          route.validate ||
          route.skip ||
          typeof free?.by === 'function' ||
          limits.some((l) => l.cost || typeof l.by === 'function'),
      ),
      ...(limits.length ? { limits } : {}),
      ...(route.accept ? { accept: checkAccept(route.accept, name, Boolean(options.keys)) } : {}),
      description: route.description ?? '',
      mimeType: route.mimeType ?? 'application/json',
      maxTimeoutSeconds: maxTimeoutOf(route, name),
      ...(meter ? { meter } : {}),
    }
  }
  const routes = options.routes
    ? Object.entries(options.routes).map(([source, route]) =>
        toRoute(typeof route === 'object' ? route : { price: route }, `"${source}"`, compileRoute(source)),
      )
    : [toRoute(options as RouteOptions, where)]
  const discovery = options.discovery === false ? false : resolveDiscovery(options.discovery ?? {})
  const publicUrl = pickSetting(settings.publicUrl, options.publicUrl, sources)
  const credits = resolveCredits(options.credits, stores.credits, asset, sources.env)
  const keys = options.keys
    ? resolveKeys(options.keys, { ledgerPath, ledgerUrl, rateLimits: stores.rateLimits, credits: Boolean(credits) })
    : undefined
  if (!credits && routes.some((r) => r.meter)) {
    throw new X402Error('invalid_config', {
      message: 'metered prices (pricePerToken, pricePerSecond …) settle through credit: leave credits on',
    })
  }
  return {
    payTo: payTo.value,
    network,
    asset,
    accepts,
    facilitator,
    ledger,
    stores,
    ledgerAt:
      ledgerPath !== undefined ? { path: ledgerPath } : ledgerUrl !== undefined ? { url: ledgerUrl } : undefined,
    routes,
    guardsAll: !options.routes,
    errors: options.errors ?? 'respond',
    discovery,
    credits,
    keys,
    trackingHeaders: options.trackingHeaders ?? false,
    publicUrl: publicUrl ? checkPublicUrl(publicUrl.value, publicUrl.from) : undefined,
    adminToken: pickSetting(settings.adminToken, options.adminToken, sources)?.value || undefined,
    webhooks,
    resolveRoute: (source, route) => {
      const resolved = toRoute(
        typeof route === 'object' ? route : { price: route },
        `"${source}"`,
        compileRoute(source),
      )
      if (!credits && resolved.meter) {
        throw new X402Error('invalid_config', {
          message: `${source}: metered prices (pricePerToken, pricePerSecond …) settle through credit: leave credits on`,
        })
      }
      return resolved
    },
  }
}

function resolveDiscovery(options: DiscoveryOptions): ResolvedDiscovery {
  const info = (options.openapi?.info ?? {}) as { title?: string; version?: string }
  return {
    openapiPath: options.openapiPath ?? '/openapi.json',
    manifestPath: options.manifestPath ?? '/.well-known/x402',
    ...(options.openapi ? { openapi: options.openapi } : {}),
    title: options.title ?? info.title ?? defaultApiTitle,
    version: options.version ?? info.version ?? '1.0.0',
  }
}

function resolveAsset(
  given: PaywallOptions['asset'],
  network: string,
  sources: ReturnType<typeof loadConfigSources>,
  name = where,
): ResolvedAsset {
  if (typeof given === 'object') {
    return { address: given.address, eip712: given.eip712, decimals: given.decimals ?? 6 }
  }
  const known = findNetwork(network)?.usdc
  // Extra options name their asset or take the network's USDC; the settings are the main one's.
  const picked =
    name === where
      ? pickSetting(settings.asset, given, sources)
      : given
        ? { value: given, from: `${name}.asset` }
        : undefined
  // The running `402x dev` knows its USDC's domain; use it when its chain is the one in use.
  if (sources.dev && sources.dev.network === network && (!picked || picked.value === sources.dev.asset)) {
    return { address: sources.dev.asset, eip712: sources.dev.eip712, decimals: 6 }
  }
  if (!picked) {
    if (known) return { address: known.address, eip712: known.eip712, decimals: known.decimals }
    throw missingSetting(settings.asset, '0xTokenAddress', where)
  }
  if (known && known.address.toLowerCase() === picked.value.toLowerCase()) {
    return { address: known.address, eip712: known.eip712, decimals: known.decimals }
  }
  throw new X402Error('invalid_config', {
    message: `asset ${picked.value} (from ${picked.from}) is not a known token on ${network}: pass asset: { address, eip712: { name, version } } to ${name}`,
  })
}

function resolveFacilitator(options: PaywallOptions, sources: ReturnType<typeof loadConfigSources>): FacilitatorLike {
  if (typeof options.facilitator === 'object') return options.facilitator
  const url = pickSetting(settings.facilitator, options.facilitator, sources)
  if (!url) throw missingSetting(settings.facilitator, 'https://x402.org/facilitator', where)
  try {
    new URL(url.value)
  } catch {
    throw new X402Error('invalid_config', {
      message: `facilitator URL "${url.value}" (from ${url.from}) is not a URL: give e.g. http://127.0.0.1:4020`,
    })
  }
  return createFacilitatorClient({
    url: url.value,
    ...(sources.env.X402_FACILITATOR_API_KEY ? { apiKey: sources.env.X402_FACILITATOR_API_KEY } : {}),
  })
}

/** A route's `accept`: not empty, and `'key'` only where keys are set. */
function checkAccept(accept: Accept[], name: string, keys: boolean): Accept[] {
  if (accept.length === 0) {
    throw new X402Error('invalid_config', {
      message: `${name}: accept is empty, so nothing could pay for it: give some of 'x402', 'credits', 'key'`,
      details: { option: 'accept' },
    })
  }
  if (accept.includes('key') && !keys) {
    throw new X402Error('invalid_config', {
      message: `${name}: accept names 'key', but no keys are set: add keys: { plans: [plans.free()] } to the middleware`,
      details: { option: 'accept' },
    })
  }
  return accept
}
