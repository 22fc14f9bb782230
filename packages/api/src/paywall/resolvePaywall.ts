import { join } from 'node:path'
import { findNetwork, parseMoney, stateDir, X402Error } from '@402x/core'
import { createFacilitatorClient, type FacilitatorLike } from '@402x/facilitator/client'
import {
  checkNetwork,
  isAddress,
  loadConfigSources,
  missingSetting,
  pickSetting,
  settings,
} from '../config/resolveConfig.js'
import { createSqliteLedger } from '../ledger/createSqliteLedger.js'
import type { Ledger } from '../ledger/types.js'
import { compileRoute, type RoutePattern } from './routes.js'
import type { PaywallOptions, RouteOptions } from './types.js'

export type ResolvedAsset = { address: string; eip712: { name: string; version: string }; decimals: number }

export type ResolvedRoute = {
  pattern?: RoutePattern
  /** Atomic units. */
  amount: bigint
  price: string
  description: string
  mimeType: string
  maxTimeoutSeconds: number
}

export type ResolvedPaywall = {
  payTo: string
  network: string
  asset: ResolvedAsset
  facilitator: FacilitatorLike
  ledger: Ledger
  /** One route when the middleware guards everything it is mounted on. */
  routes: ResolvedRoute[]
  guardsAll: boolean
}

const where = 'x402Middleware()'

/**
 * Resolves every setting from options, the environment, `402x.config.json` and a running
 * `402x dev`, or stops with a message naming what is missing and how to set it.
 */
export function resolvePaywall(options: PaywallOptions): ResolvedPaywall {
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
  const asset = resolveAsset(options, network, sources)
  const facilitator = resolveFacilitator(options, sources)
  const ledger = resolveLedger(options, sources.env)

  const decimals = asset.decimals
  const toRoute = (route: RouteOptions, name: string, pattern?: RoutePattern): ResolvedRoute => {
    const amount = parseMoney(route.price, { decimals, name: `price of ${name}` })
    if (amount <= 0n) {
      throw new X402Error('invalid_config', {
        message: `price of ${name} is ${route.price}: a paid route needs a price above 0 (leave a free route out)`,
      })
    }
    return {
      ...(pattern ? { pattern } : {}),
      amount,
      price: String(route.price)
        .replace(/^\$/, '')
        .replace(/\s*USDC?$/i, ''),
      description: route.description ?? '',
      mimeType: route.mimeType ?? 'application/json',
      maxTimeoutSeconds: route.maxTimeoutSeconds ?? 60,
    }
  }
  const routes = options.routes
    ? Object.entries(options.routes).map(([source, route]) =>
        toRoute(typeof route === 'object' ? route : { price: route }, `"${source}"`, compileRoute(source)),
      )
    : [toRoute(options as RouteOptions, where)]
  return { payTo: payTo.value, network, asset, facilitator, ledger, routes, guardsAll: !options.routes }
}

function resolveAsset(
  options: PaywallOptions,
  network: string,
  sources: ReturnType<typeof loadConfigSources>,
): ResolvedAsset {
  if (typeof options.asset === 'object') {
    return { address: options.asset.address, eip712: options.asset.eip712, decimals: options.asset.decimals ?? 6 }
  }
  const known = findNetwork(network)?.usdc
  const picked = pickSetting(settings.asset, options.asset, sources)
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
    message: `asset ${picked.value} (from ${picked.from}) is not a known token on ${network}: pass asset: { address, eip712: { name, version } } to ${where}`,
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

function resolveLedger(options: PaywallOptions, env: Record<string, string | undefined>): Ledger {
  if (typeof options.ledger === 'object') return options.ledger
  const url = options.ledger ?? env.X402_DATABASE_URL
  if (url && /^postgres(ql)?:\/\//.test(url)) {
    throw new X402Error('invalid_config', {
      message:
        'the PostgreSQL ledger is not available yet: leave X402_DATABASE_URL unset to use the embedded SQLite ledger',
    })
  }
  const path = url ? url.replace(/^sqlite:(\/\/)?/, '') : join(stateDir(), 'ledger.db')
  return createSqliteLedger({ path })
}
