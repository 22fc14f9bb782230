import { formatMoney, type PaymentRequirements, parseMoney, X402Error } from '@402x/core'
import type { Ledger } from '../ledger/types.js'
import { dollars, toPlain } from './dollars.js'
import type { ResolvedOption, ResolvedRoute } from './resolvePaywall.js'
import type { AnyRequest, PayerInfo } from './types.js'

/** The requirements a route offers at a price: one per accepted option, in order. */
export function requirementsAt(options: ResolvedOption[], route: ResolvedRoute, price: string): PaymentRequirements[] {
  return options.map((option) => ({
    scheme: 'exact',
    network: option.network,
    amount: parseMoney(price, { decimals: option.asset.decimals, rounding: 'half-up' }).toString(),
    asset: option.asset.address,
    payTo: option.payTo,
    maxTimeoutSeconds: route.maxTimeoutSeconds,
    extra: { ...option.asset.eip712 },
  }))
}

export const unknownPayer: PayerInfo = Object.freeze({ address: undefined, monthlyRequests: 0, monthlySpent: '0' })

/** The start of the current month, UTC, in ms. */
const monthStart = (now = new Date()) => Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)

/** What a price function knows about a payer: their payments this month, from the ledger. */
export async function payerInfo(
  ledger: Ledger,
  address: string | undefined,
  assets: ResolvedOption['asset'][],
): Promise<PayerInfo> {
  if (!address || !/^0x[0-9a-fA-F]{40}$/.test(address)) return unknownPayer
  const rows = await ledger.payerStats(address, monthStart())
  let count = 0
  let dollars = 0
  for (const row of rows) {
    count += row.count
    // Dollars per asset by its own decimals; an asset no longer accepted counts by requests only.
    const asset = assets.find((a) => a.address.toLowerCase() === row.asset)
    // A float from here on: a figure shown to price functions (`monthlySpent`), not accounting.
    if (asset) dollars += Number(row.amount) / 10 ** asset.decimals
  }
  return {
    address: address.toLowerCase(),
    monthlyRequests: count,
    monthlySpent: String(Math.round(dollars * 1e6) / 1e6),
  }
}

/**
 * Runs a route's price function and checks what it returns: dollars as a string (`"0"`
 * when this request is free). A throw or a value that is not an amount is the request's
 * fault as far as the caller can tell (it is what the price was computed from), so it
 * becomes a 400 that names the route's price function.
 */
export async function computePrice(
  route: ResolvedRoute,
  req: AnyRequest,
  user: PayerInfo,
  decimals: number,
): Promise<string> {
  const fn = route.priceFn as NonNullable<ResolvedRoute['priceFn']>
  let value: unknown
  try {
    value = await fn(req, user)
  } catch (error) {
    throw new X402Error('invalid_request', {
      message: `the price of this request could not be computed: ${(error as Error).message}; check the request (nothing was charged)`,
      cause: error,
    })
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new X402Error('invalid_request', {
      message: `the price of this request could not be computed (it came out as ${value}): check the request body and parameters (nothing was charged)`,
    })
  }
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw new X402Error('invalid_config', {
      message: `the route's price function returned ${typeof value}: return dollars as a number or string, e.g. 0.01`,
    })
  }
  const text = dollars(typeof value === 'number' ? toPlain(value) : value)
  try {
    // What is charged is the price rounded to the asset's unit; show exactly that.
    return formatMoney(parseMoney(text, { decimals, rounding: 'half-up', name: 'the computed price' }), decimals)
  } catch (error) {
    throw new X402Error('invalid_request', {
      message: `${(error as Error).message} (nothing was charged)`,
      cause: error,
    })
  }
}
