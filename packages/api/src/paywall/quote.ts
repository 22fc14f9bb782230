import { createSiwxExtension, type PaymentRequirements, siwxExtensionKey, siwxHeader, verifySiwx } from '@402x/core'
import type { Ledger } from '../ledger/types.js'
import { callerId } from '../ratelimit/callerId.js'
import { computePrice, payerInfo, requirementsAt, unknownPayer } from './pricing.js'
import type { ResolvedPaywall, ResolvedRoute } from './resolvePaywall.js'
import { errorResponse, faultResponse } from './responses.js'
import type { RequestHead } from './types.js'

/** What pricing decides before any payment is looked at. */
export type Quote =
  | { type: 'skip' }
  | { type: 'respond'; response: Response }
  | {
      type: 'quote'
      /** Dollars, as charged (rounded to the asset's unit). */
      price: string
      accepts: PaymentRequirements[]
      /**
       * The x402 extensions for this route's 402 (`sign-in-with-x` where the payer's identity
       * matters), built only when a 402 is answered.
       */
      extensions?: () => Record<string, unknown>
      /** Why a `SIGN-IN-WITH-X` header was not accepted, to say so in the 402. */
      identityError?: { reason: string; message: string }
    }

export type QuoteInput = {
  route: ResolvedRoute
  request: RequestHead
  /** The request as pricing code sees it. */
  req: unknown
  ip: string | undefined
  resourceUrl: string
  /** The address that signed the payment, when there is one. */
  payer: string | undefined
  /** Told when the free tier counts by IP and `ip` is unknown (that request gets none free). */
  noAddress?: () => void
}

/**
 * The quoting step of the core: conditional `skip`, `validate`, the free tier, the payer's
 * identity (a payment, a `SIGN-IN-WITH-X` proof, or the `X-402x-Payer` hint for quotes),
 * and the price with the requirements it gives.
 */
export function createQuoter(config: ResolvedPaywall, ledger: Ledger) {
  const fixed = new Map(
    config.routes.flatMap((r) => (r.price === undefined ? [] : [[r, requirementsAt(config.accepts, r, r.price)]])),
  )
  const { counters, spentProofs } = config.stores
  // A sign-in proves identity once: a replayed proof gets no free request. (Its own key
  // space: the paywall spends proofs for retries under `address:nonce`.)
  const spendNonce = (nonce: string, expiresAt: number) => spentProofs.spend(`free:${nonce}`, expiresAt)
  const networks = [...new Set(config.accepts.map((a) => a.network))]
  const assets = config.accepts.map((a) => a.asset)

  return async function quote(input: QuoteInput): Promise<Quote> {
    const { route, request, req, resourceUrl } = input
    if (route.skip) {
      try {
        if (await route.skip(req)) return { type: 'skip' }
      } catch (error) {
        const message = `the route's skip() failed: ${(error as Error).message}; nothing was charged`
        return { type: 'respond', response: errorResponse(500, 'internal_error', message) }
      }
    }
    if (route.validate) {
      try {
        await route.validate(req)
      } catch (error) {
        const message = `${(error as Error).message} (nothing was charged)`
        return { type: 'respond', response: errorResponse(400, 'invalid_request', message) }
      }
    }

    const wantsIdentity = route.usesPayer || route.free?.by === 'payer'
    let identity: { address: string; nonce: string; expiresAt: number } | undefined
    let identityError: { reason: string; message: string } | undefined
    const proof = wantsIdentity && !input.payer ? request.headers.get(siwxHeader) : null
    if (proof) {
      const check = verifySiwx(proof, { url: resourceUrl, networks })
      if (check.ok) identity = check
      else identityError = { reason: check.reason, message: check.message }
    }

    if (route.free && !input.payer) {
      const free = route.free
      // The free tier's payer is one proven by a sign-in proof, spent once.
      const payer =
        free.by === 'payer' && identity && (await spendNonce(identity.nonce, identity.expiresAt))
          ? identity.address
          : undefined
      if (free.by === 'ip' && input.ip === undefined) input.noAddress?.()
      const who = await callerId(free.by, {
        ip: input.ip,
        key: free.by === 'key' ? (request.headers.get(free.keyHeader) ?? undefined) : undefined,
        token: undefined,
        payer,
        req,
      })
      if (
        who &&
        (await counters.take(`free:${config.routes.indexOf(route)}:${who}`, 1, free.requests, free.windowMs)).ok
      ) {
        return { type: 'skip' }
      }
    }

    let price: string
    let accepts: PaymentRequirements[]
    if (route.price !== undefined) {
      price = route.price
      accepts = fixed.get(route) ?? requirementsAt(config.accepts, route, price)
    } else {
      try {
        const address = input.payer ?? identity?.address ?? request.headers.get('x-402x-payer') ?? undefined
        const user = route.usesPayer ? await payerInfo(ledger, address, assets) : unknownPayer
        price = await computePrice(route, req, user, config.asset.decimals)
      } catch (error) {
        return { type: 'respond', response: faultResponse(error) }
      }
      const all = requirementsAt(config.accepts, route, price)
      // A price of 0 makes this request free; an option in which it rounds to 0 (an asset
      // with fewer decimals) is left out rather than offered for nothing.
      if (all.every((a) => a.amount === '0')) return { type: 'skip' }
      accepts = all.filter((a) => a.amount !== '0')
    }
    return {
      type: 'quote',
      price,
      accepts,
      ...(wantsIdentity
        ? { extensions: () => ({ [siwxExtensionKey]: createSiwxExtension({ url: resourceUrl, networks }) }) }
        : {}),
      ...(identityError ? { identityError } : {}),
    }
  }
}
