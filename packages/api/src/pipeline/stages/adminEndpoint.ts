import { readJson } from '../../admin/adminHttp.js'
import { adminRoute } from '../../admin/adminRoute.js'
import { presentsSession } from '../../admin/adminSession.js'
import { checkAdminAuth } from '../../admin/checkAdminAuth.js'
import { serveAdmin } from '../../admin/serveAdmin.js'
import { signInAttempt } from '../../admin/signInLimit.js'
import type { Stage } from '../compose.js'
import { respond } from '../context.js'

/**
 * Admin endpoint (`/__402x/admin/…`, on every paywall): keys, plans, usage and the rest for
 * operators, behind the admin token (`checkAdminAuth`). Right after `route`: an admin
 * request is never priced, rate limited or charged; a bearer token sent counts as a sign-in
 * attempt (`signInLimit.ts`: wrong ones are limited per address, as the dashboard's). Reads
 * `route`, the request and `context.ip`; sets nothing. Other routes pass through untouched.
 */
export const adminEndpoint: Stage = async (ctx, next) => {
  if (ctx.route !== adminRoute) return next()
  const { rt, request } = ctx
  const authorization = request.headers.get('authorization')
  const cookie = request.headers.get('cookie')
  // A token sent, or a session cookie (an HMAC anyone can compute for a guessed token), is a
  // guess until compared: counted first, given back when it was right.
  const attempt =
    (authorization !== null || presentsSession(cookie)) && rt.config.adminToken !== undefined
      ? await signInAttempt(rt.config.stores.rateLimits, ctx.context.ip)
      : undefined
  if (attempt instanceof Response) return respond(attempt)
  const refused = checkAdminAuth({
    token: rt.config.adminToken,
    network: rt.config.network,
    ip: ctx.context.ip,
    authorization,
    cookie,
    method: request.method,
    requestOrigin: request.headers.get('origin'),
    selfOrigin: ctx.origin,
  })
  await attempt?.done(refused?.status !== 401)
  if (refused) return respond(refused)
  return respond(
    await serveAdmin(request.method, {
      keys: rt.adminKeys,
      rt,
      url: ctx.url,
      body: () => readJson(request, ctx.context.req),
      decimals: rt.decimals,
      origin: ctx.origin,
    }),
  )
}
