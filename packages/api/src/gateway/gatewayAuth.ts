import { isLoopback, sameSecret } from '../admin/checkAdminAuth.js'
import { errorResponse } from '../paywall/responses.js'

/**
 * Who may call the decision service: with a token (`token`, else `X402_GATEWAY_TOKEN`),
 * whoever presents it as a bearer token; without one, callers on this machine only.
 * `undefined`: let the request in.
 */
export function checkGatewayAuth(
  token: string | undefined,
  ip: string | undefined,
  authorization: string | undefined,
): Response | undefined {
  if (token !== undefined) {
    const presented = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '')?.[1]
    if (presented !== undefined && sameSecret(presented, token)) return undefined
    const response = errorResponse(
      401,
      'gateway_unauthorized',
      presented === undefined
        ? 'the decision service needs Authorization: Bearer <X402_GATEWAY_TOKEN>'
        : 'the token sent is not this gateway’s X402_GATEWAY_TOKEN: send the token the gateway was started with',
    )
    response.headers.set('www-authenticate', 'Bearer')
    return response
  }
  if (isLoopback(ip)) return undefined
  return errorResponse(
    403,
    'gateway_forbidden',
    'without X402_GATEWAY_TOKEN the decision service answers this machine only: call it from 127.0.0.1, or start the gateway with X402_GATEWAY_TOKEN (or --token) and send Authorization: Bearer <token>',
  )
}
