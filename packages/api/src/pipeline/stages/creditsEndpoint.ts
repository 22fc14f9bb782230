import { formatMoney } from '@402x/core'
import type { ResolvedCredits } from '../../paywall/credits.js'
import { creditsPath, invalidToken, jsonResponse, topUpAmount, unknownTopUpToken } from '../../paywall/credits.js'
import { requirementsAt } from '../../paywall/pricing.js'
import { errorResponse, faultResponse, refusalBody } from '../../paywall/responses.js'
import type { Stage } from '../compose.js'
import { respond } from '../context.js'
import { creditService, type PaywallRuntime } from '../runtime.js'

/**
 * Credits endpoint (`/__402x/credits`): `GET` shows the token's balance, `DELETE` revokes
 * the token, `POST ?amount=` is priced here (at the amount) and handed on to be paid like
 * any route. Reads `route`, `identity.token`; sets `price` and `accepts` for a top-up.
 * Other routes pass through untouched.
 */
export const creditsEndpoint: Stage = async (ctx, next) => {
  const { rt, request } = ctx
  if (ctx.route !== rt.creditsRoute) return next()
  const { token } = ctx.identity
  if (request.method === 'GET' || request.method === 'HEAD') return respond(await showCredits(rt, token))
  if (request.method === 'DELETE') return respond(await revokeCredits(rt, token))
  if (request.method !== 'POST') {
    return respond(errorResponse(405, 'invalid_request', `buy credit with POST ${creditsPath}?amount=<dollars>`))
  }
  const { config } = rt
  const amount = topUpAmount(config.credits as ResolvedCredits, ctx.url)
  if (typeof amount !== 'bigint') return respond(errorResponse(400, 'invalid_request', amount.error))
  // A top-up names the account it tops up: a token not known here (revoked, or never
  // issued) is refused before anything is paid, rather than opening a new account.
  if (token && (await creditService(rt).accountFor(token)) === undefined) return respond(unknownTopUpToken())
  const price = formatMoney(amount, config.asset.decimals)
  // What is paid for credit becomes credit in the main asset's units.
  const sameUnits = config.accepts.filter((a) => a.asset.decimals === config.asset.decimals)
  ctx.price = price
  ctx.accepts = requirementsAt(sameUnits, ctx.route, price)
  return next()
}

/** `GET /__402x/credits`: the token holder's balance and latest entries. */
async function showCredits(rt: PaywallRuntime, token: string | undefined): Promise<Response> {
  if (!token) {
    return jsonResponse(
      401,
      refusalBody(
        'invalid_token',
        `send Authorization: Bearer <token>; buy credit with POST ${creditsPath}?amount=<dollars>`,
      ),
      { 'www-authenticate': 'Bearer' },
    )
  }
  const { decimals } = rt
  try {
    const service = creditService(rt)
    const account = await service.accountFor(token)
    if (!account) return invalidToken()
    const balance = await service.balance(account)
    const entries = await service.entries(account, 50)
    return jsonResponse(200, {
      balance: {
        available: formatMoney(balance.available, decimals),
        reserved: formatMoney(balance.reserved, decimals),
      },
      atomic: { available: balance.available, reserved: balance.reserved, decimals },
      entries: entries.map((e) => ({
        kind: e.kind,
        account: e.account.startsWith('hold:') ? 'reserved' : 'available',
        amount: formatMoney(e.amount < 0n ? -e.amount : e.amount, decimals),
        direction: e.amount < 0n ? 'out' : 'in',
        ref: e.ref,
        ...(e.note ? { note: e.note } : {}),
        at: new Date(e.createdAt).toISOString(),
      })),
    })
  } catch (error) {
    return faultResponse(error)
  }
}

/** `DELETE /__402x/credits`: the token holder revokes the token it presents (a leak). */
async function revokeCredits(rt: PaywallRuntime, token: string | undefined): Promise<Response> {
  if (!token) {
    return jsonResponse(
      401,
      refusalBody('invalid_token', 'send Authorization: Bearer <token> with the token to revoke'),
      {
        'www-authenticate': 'Bearer',
      },
    )
  }
  try {
    const service = creditService(rt)
    const account = await service.accountFor(token)
    if (!account || !(await service.revoke(token))) return invalidToken()
    const { available } = await service.balance(account)
    return jsonResponse(200, {
      revoked: true,
      message:
        'this token opens nothing any more; the credit stays with the account and its other tokens (the payer gets a new one by retrying its payment with a sign-in)',
      balance: { available: formatMoney(available, rt.decimals) },
    })
  } catch (error) {
    return faultResponse(error)
  }
}
