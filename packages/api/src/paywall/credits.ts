import { resolve } from 'node:path'
import { formatMoney, parseMoney, X402Error } from '@402x/core'
import type { CreditService } from '../credits/creditService.js'
import { createOnchainRefunder, type OnchainRefunder } from '../credits/refundOnchain.js'
import { sharedCreditService } from '../credits/sharedCreditService.js'
import { tokenPrefix } from '../credits/tokens.js'
import type { CreditStore } from '../stores/types.js'
import { exposeHeaders, refusalBody } from './responses.js'
import type { CreditsOptions, Price, RequestHead } from './types.js'

/** Where credit is bought (`POST ?amount=`) and shown (`GET`, with the bearer token). */
export const creditsPath = '/__402x/credits'
/** The x402 extension that offers a top-up in each 402. */
export const creditsExtensionKey = '402x-credits'
export const receiptHeader = 'x-402x-receipt'
export const tokenHeader = 'x-402x-credit-token'
export const creditExposeHeaders = `${exposeHeaders}, X-402x-Receipt, X-402x-Credit-Token`

export type ResolvedCredits = {
  service: CreditService
  topUp: { min: bigint; max: bigint; suggested: bigint }
  decimals: number
  refund: 'credit' | 'onchain'
  /** Lazily made: only `refund: 'onchain'` needs it. */
  refunder(): OnchainRefunder
  reservationTtlMs: number
}

/** Reads the `credits` option; `undefined` when credit is turned off. */
export function resolveCredits(
  options: CreditsOptions | false | undefined,
  /** The credit store, or where it is opened from (SQLite file, PostgreSQL), as `resolveStores` chose it. */
  store: CreditStore | { path: string } | { url: string },
  asset: { address: string; decimals: number },
  env: Record<string, string | undefined>,
): ResolvedCredits | undefined {
  if (options === false) return undefined
  const given = options ?? {}
  const { decimals } = asset
  const money = (value: Price | undefined, fallback: string, name: string) => {
    const amount = parseMoney(value ?? fallback, { decimals, name: `credits.topUp.${name}` })
    if (amount <= 0n) throw new X402Error('invalid_config', { message: `credits.topUp.${name} must be above 0` })
    return amount
  }
  const topUp = {
    min: money(given.topUp?.min, '0.01', 'min'),
    max: money(given.topUp?.max, '1000', 'max'),
    suggested: money(given.topUp?.suggested, '1', 'suggested'),
  }
  if (topUp.min > topUp.max || topUp.suggested < topUp.min || topUp.suggested > topUp.max) {
    throw new X402Error('invalid_config', {
      message: 'credits.topUp: min ≤ suggested ≤ max, e.g. { min: 0.01, suggested: 1, max: 1000 }',
    })
  }
  const refund = given.refund ?? 'credit'
  const refundKey = given.refundKey ?? env.X402_REFUND_KEY
  const rpcUrl = given.rpcUrl ?? env.X402_RPC_URL
  if (refund === 'onchain' && (!refundKey || !rpcUrl)) {
    throw new X402Error('invalid_config', {
      message:
        "credits.refund is 'onchain': give credits.refundKey (the payTo wallet's private key, or X402_REFUND_KEY) and credits.rpcUrl (or X402_RPC_URL)",
    })
  }
  if (refund !== 'onchain' && refund !== 'credit') {
    throw new X402Error('invalid_config', { message: `credits.refund is "${refund}": give 'credit' or 'onchain'` })
  }
  let refunder: OnchainRefunder | undefined
  return {
    service: sharedCreditService(
      'path' in store && typeof store.path === 'string'
        ? { path: store.path === ':memory:' ? store.path : resolve(store.path) }
        : 'url' in store && typeof store.url === 'string'
          ? { url: store.url }
          : { store: store as CreditStore },
    ),
    topUp,
    decimals,
    refund,
    refunder() {
      refunder ??= createOnchainRefunder({
        privateKey: refundKey as `0x${string}`,
        rpcUrl: rpcUrl as string,
        asset: asset.address as `0x${string}`,
      })
      return refunder
    },
    reservationTtlMs: given.reservationTtlMs ?? 600_000,
  }
}

/**
 * The credit token in an `Authorization` value, when it is one of ours (`Bearer x402c_…`):
 * the one parser of bearer tokens, for the core and every adapter.
 */
export function parseCreditToken(value: string | null | undefined): string | undefined {
  if (!value) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value)
  return match?.[1]?.startsWith(tokenPrefix) ? match[1] : undefined
}

/** The caller's credit token, when it sent one of ours (`Authorization: Bearer x402c_…`). */
export const bearerToken = (request: RequestHead): string | undefined =>
  parseCreditToken(request.headers.get('authorization'))

/** The top-up offer of a 402 (`extensions["402x-credits"]`, and `credits` in its body). */
export function creditsOffer(credits: ResolvedCredits, origin: string, balance?: bigint) {
  const { decimals } = credits
  return {
    topUp: `${origin}${creditsPath}`,
    minTopUp: formatMoney(credits.topUp.min, decimals),
    maxTopUp: formatMoney(credits.topUp.max, decimals),
    suggested: formatMoney(credits.topUp.suggested, decimals),
    ...(balance !== undefined ? { balance: formatMoney(balance, decimals) } : {}),
  }
}

export function creditsExtension(offer: ReturnType<typeof creditsOffer>) {
  return {
    [creditsExtensionKey]: {
      info: offer,
      schema: {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        properties: {
          topUp: { type: 'string', description: 'POST here with ?amount=<dollars>, paid with x402, to buy credit' },
          minTopUp: { type: 'string' },
          maxTopUp: { type: 'string' },
          suggested: { type: 'string' },
          balance: { type: 'string', description: "The presented token's available credit, in dollars" },
        },
        required: ['topUp', 'minTopUp', 'maxTopUp'],
      },
    },
  }
}

/** The amount of `POST /__402x/credits?amount=…`, checked against the limits. */
export function topUpAmount(credits: ResolvedCredits, url: URL): bigint | { error: string } {
  const given = url.searchParams.get('amount')
  const { decimals, topUp } = credits
  const range = `between $${formatMoney(topUp.min, decimals)} and $${formatMoney(topUp.max, decimals)}`
  if (given === null) return { error: `give the amount of credit to buy in dollars: ?amount=1 (${range})` }
  let amount: bigint
  try {
    amount = parseMoney(given, { decimals, name: 'amount' })
  } catch (error) {
    return { error: `${(error as Error).message}; buy ${range}` }
  }
  if (amount < topUp.min || amount > topUp.max) return { error: `amount is $${given}: buy ${range}` }
  return amount
}

/** JSON answers of the credit endpoints and the credit path. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(
    JSON.stringify(body, (_, v) => (typeof v === 'bigint' ? String(v) : v)),
    {
      status,
      headers: {
        'content-type': 'application/json',
        'cache-control': 'no-store',
        'access-control-expose-headers': creditExposeHeaders,
        ...headers,
      },
    },
  )
}

export function invalidToken(): Response {
  return jsonResponse(
    401,
    refusalBody(
      'invalid_token',
      'this credit token is not known here: buy credit with POST /__402x/credits?amount=…, or send the request without it to pay per request',
    ),
    { 'www-authenticate': 'Bearer error="invalid_token"' },
  )
}

/** A top-up that presents a token this API does not know: nothing is paid, no account opened. */
export function unknownTopUpToken(): Response {
  return jsonResponse(
    401,
    refusalBody(
      'invalid_token',
      'this credit token is not known here (revoked, or never issued), so it names no account to top up: send the top-up without Authorization to open a new account (its token comes back), or with a token of the account to top up',
    ),
    { 'www-authenticate': 'Bearer error="invalid_token"' },
  )
}

/** {@link receiptHeaders} set on a Node response, with no arrays to allocate (the hot path). */
export function setReceiptHeaders(res: { setHeader(name: string, value: string): unknown }, receipt: string) {
  res.setHeader(receiptHeader, receipt)
  res.setHeader('access-control-expose-headers', creditExposeHeaders)
  res.setHeader('cache-control', 'private, no-store')
}

/**
 * The headers of a credit-funded or metered answer: its receipt (`receiptJson`), a new
 * credit token when one was opened, and what a browser needs to read them.
 */
export function receiptHeaders(receipt: string, token?: string): [string, string][] {
  return [
    [receiptHeader, receipt],
    ...(token ? [[tokenHeader, token] as [string, string]] : []),
    ['access-control-expose-headers', creditExposeHeaders],
    ['cache-control', 'private, no-store'],
  ]
}
