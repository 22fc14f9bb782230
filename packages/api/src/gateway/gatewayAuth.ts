import { bearerRefusal, isLoopback } from '../admin/checkAdminAuth.js'
import { errorResponse } from '../paywall/responses.js'

/**
 * Who may call the decision service: with a token (`token`, else `X402_GATEWAY_TOKEN`),
 * whoever presents it as a bearer token; without one, callers on this machine only. A
 * loopback peer that says it `forwarded` the request (a reverse proxy on this machine, which
 * makes every caller 127.0.0.1) is not one. `undefined`: let the request in.
 */
export function checkGatewayAuth(
  token: string | undefined,
  ip: string | undefined,
  authorization: string | undefined,
  forwarded = false,
): Response | undefined {
  if (token !== undefined) {
    return bearerRefusal(token, authorization, 'gateway_unauthorized', {
      missing: 'the decision service needs Authorization: Bearer <X402_GATEWAY_TOKEN>',
      wrong: 'the token sent is not this gateway’s X402_GATEWAY_TOKEN: send the token the gateway was started with',
    })
  }
  if (isLoopback(ip) && !forwarded) return undefined
  return errorResponse(
    403,
    'gateway_forbidden',
    forwarded && isLoopback(ip)
      ? 'this call came through a proxy (Forwarded, X-Forwarded-For or X-Real-IP), and without X402_GATEWAY_TOKEN the decision service answers this machine only: call it directly from 127.0.0.1, or start the gateway with X402_GATEWAY_TOKEN (or --token) and send Authorization: Bearer <token>'
      : 'without X402_GATEWAY_TOKEN the decision service answers this machine only: call it from 127.0.0.1, or start the gateway with X402_GATEWAY_TOKEN (or --token) and send Authorization: Bearer <token>',
  )
}
