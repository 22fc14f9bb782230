import type { IncomingMessage } from 'node:http'
import { decodeHeader, formatMoney, SettleResponseSchema, siwxHeader, headers as x402Headers } from '@402x/core'
import type { Paywall } from '../paywall/createPaywall.js'
import { creditsPath, parseCreditToken, receiptHeader, tokenHeader } from '../paywall/credits.js'
import type { RequestHead } from '../paywall/types.js'
import { creditRefusal } from './creditRefusal.js'
import { CreditSession } from './creditSession.js'
import { refusal, refusalOf } from './refusal.js'
import type { WebSocketPayment } from './types.js'
import { upgradeHead, withoutCredentials } from './upgradeHead.js'

/** A WebSocket paywall's settings, resolved once (`createX402WebSocket`). */
export type ResolvedWebSocket = {
  paywall: Paywall
  /** Atomic units to connect. */
  fixed: bigint
  billing?: {
    unit: 'message' | 'KB' | 'second'
    /** Atomic units per unit, scaled by 10^9. */
    unitPrice: bigint
    block: bigint
    warnBelow: bigint
    /** Dollars an exact payment on connect buys as credit. */
    deposit: string
  }
}

/** A connect decided: the payment, the credit session of a billed one, and what to undo if the handshake fails. */
export type Connect = {
  payment: WebSocketPayment
  session?: CreditSession
  /** Where the caller tops up (notices). */
  topUp: string
  /** The handshake never completed: the paid connect is not delivered. */
  undelivered?: () => Promise<void>
}

const sent = (response: Response, name: string) => response.headers.get(name)

/** Pays (or refuses) one upgrade request, before or after its handshake. */
export async function payOnConnect(ws: ResolvedWebSocket, req: IncomingMessage): Promise<Connect> {
  let head: RequestHead
  try {
    head = upgradeHead(req)
    // Read once (the connect is kept per request): the handler's `req.url` no longer shows them.
    if (req.url) req.url = withoutCredentials(req.url)
  } catch {
    const refused = await refusal(400, 'invalid_request', 'the Host header or the path of the upgrade is not valid')
    return { payment: refused, topUp: '' }
  }
  const url = head.parsedUrl as URL
  const origin = ws.paywall.config.publicUrl ?? url.origin
  const topUp = `${origin}${creditsPath}`
  const context = { req, ...(req.socket?.remoteAddress ? { ip: req.socket.remoteAddress } : {}) }
  try {
    if (!ws.billing) return { ...(await payPrice(ws, head, context)), topUp }
    return { ...(await payDeposit(ws, head, context, origin)), topUp }
  } catch (error) {
    ws.paywall.events.emit('error', error)
    const refused = await refusal(
      503,
      'store_unavailable',
      `the payment could not be checked now (${(error as Error).message}): connect again in a moment`,
    )
    return { payment: refused, topUp }
  }
}

type Context = { req: IncomingMessage; ip?: string }

/** An unbilled connection: its price paid like any request (exact, credit, an API key), settled before the handshake. */
async function payPrice(ws: ResolvedWebSocket, head: RequestHead, context: Context): Promise<Omit<Connect, 'topUp'>> {
  // The stream's own price (`/*`) whatever the upgrade's path: a path the paywall would
  // answer itself over HTTP (`/__402x/…`) or hand on is no way into the stream for free.
  const decision = await ws.paywall.handle(head, ws.paywall.config.routes[0], context)
  if (decision.type === 'skip') {
    return { payment: { verified: true, via: 'credit', charged: 0n, headers: [...(decision.headers ?? [])] } }
  }
  if (decision.type === 'respond') return { payment: await refusalOf(decision.response) }
  const answer = await decision.finish(new Response(null, { status: 200 }))
  if (answer.status >= 400) return { payment: await refusalOf(answer) }
  const settle = decodeHeader(sent(answer, x402Headers.paymentResponse) ?? '', SettleResponseSchema)
  const receipt = sent(answer, receiptHeader)
  const headers: [string, string][] = []
  for (const name of [x402Headers.paymentResponse, receiptHeader]) {
    const value = sent(answer, name)
    if (value) headers.push([name, value])
  }
  const via = decision.caller?.kind === 'key' ? 'key' : decision.requirements ? 'exact' : 'credit'
  const charged = decision.requirements
    ? BigInt(decision.requirements.amount)
    : receipt
      ? BigInt((JSON.parse(receipt) as { captured: string }).captured)
      : 0n
  return {
    payment: {
      verified: true,
      via,
      charged,
      headers,
      ...(decision.caller?.kind === 'credit' ? { account: decision.caller.consumer } : {}),
      ...(settle.ok && settle.value.payer ? { payer: settle.value.payer } : {}),
      ...(settle.ok && settle.value.transaction ? { transaction: settle.value.transaction } : {}),
    },
    undelivered: () => decision.undelivered(),
  }
}

/** Request headers a challenge is asked without: a payment (and its sign-in) would be taken again. */
const paymentHeaders = new Set(
  [x402Headers.paymentSignature, x402Headers.v1Payment, siwxHeader].map((h) => h.toLowerCase()),
)

/**
 * A head for `POST /__402x/credits?amount=<deposit>` with the upgrade's credentials (its
 * token, which names the account to top up): to `pay` the deposit with the upgrade's
 * payment, or for its `challenge` alone.
 */
function depositHead(head: RequestHead, amount: string, mode: 'pay' | 'challenge'): RequestHead {
  const url = new URL(creditsPath, head.parsedUrl as URL)
  url.searchParams.set('amount', amount)
  const base = head.headers
  return {
    method: 'POST',
    url: url.href,
    parsedUrl: url,
    headers: {
      get: (name) => (mode === 'challenge' && paymentHeaders.has(name.toLowerCase()) ? null : base.get(name)),
    },
  }
}

/**
 * A billed connection: its credit account (from the token, or opened by an exact payment
 * of the deposit, which becomes its credit), then its first reserve. No payment and no
 * token: the deposit's 402.
 */
async function payDeposit(
  ws: ResolvedWebSocket,
  head: RequestHead,
  context: Context,
  origin: string,
): Promise<Omit<Connect, 'topUp'>> {
  const billing = ws.billing as NonNullable<ResolvedWebSocket['billing']>
  const topUp = `${origin}${creditsPath}`
  const service = (ws.paywall.config.credits as NonNullable<Paywall['config']['credits']>).service
  const presented = parseCreditToken(head.headers.get('authorization'))
  const paying = Boolean(head.headers.get(x402Headers.paymentSignature) ?? head.headers.get(x402Headers.v1Payment))
  const headers: [string, string][] = []
  let token: string | undefined
  let payer: string | undefined
  let transaction: string | undefined
  if (paying || !presented) {
    // The credit endpoint prices, verifies, settles and credits the deposit: one path for all credit bought.
    const decision = await ws.paywall.handle(depositHead(head, billing.deposit, 'pay'), undefined, context)
    if (decision.type === 'skip') throw new Error('the credit endpoint was not served')
    if (decision.type === 'proceed') {
      await decision.abort('a WebSocket deposit is answered by the credit endpoint')
      throw new Error('the credit endpoint proceeded instead of answering')
    }
    const answer = decision.response
    if (answer.status !== 200) return { payment: await refusalOf(answer) }
    token = sent(answer, tokenHeader) ?? undefined
    const settled = sent(answer, x402Headers.paymentResponse)
    if (settled) {
      headers.push([x402Headers.paymentResponse, settled])
      const settle = decodeHeader(settled, SettleResponseSchema)
      if (settle.ok) {
        payer = settle.value.payer
        transaction = settle.value.transaction
      }
    }
    if (token) headers.push([tokenHeader, token])
  }
  const account = await service.accountFor((token ?? presented) as string)
  if (!account) {
    return {
      payment: await refusal(
        401,
        'invalid_token',
        `this credit token is not known here: connect without it and pay the deposit, or buy credit with POST ${topUp}?amount=<dollars>`,
      ),
    }
  }
  const session = new CreditSession({
    service,
    account,
    unitPrice: billing.unitPrice,
    fixed: ws.fixed,
    block: billing.block,
    ttlMs: ws.paywall.config.credits?.reservationTtlMs ?? 600_000,
  })
  const started = await session.start()
  if (!started.ok) {
    const decimals = ws.paywall.config.asset.decimals
    const credits = ws.paywall.config.credits as NonNullable<Paywall['config']['credits']>
    // The deposit's challenge, so that the caller can pay more into this account as it connects again.
    const challenge = await ws.paywall.handle(depositHead(head, billing.deposit, 'challenge'), undefined, context)
    const least = formatMoney(session.chargeFor(1_000_000_000n), decimals)
    const response = await creditRefusal({
      challenge: challenge.type === 'respond' ? challenge.response : undefined,
      credits,
      origin,
      available: started.available,
      message: `this stream needs at least $${least} of credit to connect and this token's account has $${formatMoney(started.available, decimals)}: top it up with POST ${topUp}?amount=<dollars> (from $${formatMoney(credits.topUp.min, decimals)} to $${formatMoney(credits.topUp.max, decimals)}) and this token, then connect again; or connect again with this token and a payment of the deposit ($${billing.deposit}, the PAYMENT-REQUIRED challenge), which tops it up`,
    })
    if (challenge.type === 'proceed') await challenge.abort('a WebSocket deposit challenge is only read')
    // A deposit paid on this connect is credit on the account all the same: its token goes back.
    if (token) response.headers.set(tokenHeader, token)
    return { payment: await refusalOf(response) }
  }
  return {
    payment: {
      verified: true,
      via: paying ? 'exact' : 'credit',
      account,
      charged: ws.fixed,
      headers,
      ...(token ? { token } : {}),
      ...(payer ? { payer } : {}),
      ...(transaction ? { transaction } : {}),
    },
    session,
    // The handshake failed: nothing was served, nothing is charged.
    undelivered: async () => void (await session.cancel()),
  }
}
