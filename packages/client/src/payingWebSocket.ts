import { parseMoney, X402Error } from '@402x/core'
import { createTopUps } from './createTopUps.js'
import { PaymentFailedError } from './paymentFailedError.js'
import { type PayingFetch, type PayingParts, payingParts } from './wrapFetch.js'

/** A `ws`-style WebSocket class: `new WebSocket(url, protocols, { headers })`, with `on()`. */
export type WebSocketClass = new (
  url: string,
  protocols?: string[],
  options?: { headers?: Record<string, string> },
) => {
  readonly protocol: string
  on(event: string, listener: (...args: never[]) => void): unknown
  once(event: string, listener: (...args: never[]) => void): unknown
  terminate(): void
  pause?(): void
  resume?(): void
}

export type PayingWebSocketOptions<W extends WebSocketClass> = {
  /** The WebSocket class to connect with: `ws`'s (`import WebSocket from 'ws'`). */
  WebSocket: W
  /**
   * How the payment or the credit token is sent on connect: headers, the subprotocol
   * (`x402-payment.<base64url>`, `x402-token.<token>`, as browsers must), or the query.
   * @default 'header'
   */
  via?: 'header' | 'subprotocol' | 'query'
  /** The app's own subprotocols, offered first. */
  protocols?: string[]
  /** Headers sent with the upgrade (not with `via: 'header'` payments only: always). */
  headers?: Record<string, string>
  /**
   * Dollars of credit to buy when the server warns that the credit is low (`x402.credit_low`),
   * within the budget. @default the client's `credits.topUp`, else none (the stream ends at 4402)
   */
  topUp?: number | string
  /** A top-up that failed (over budget, refused): the stream then ends when the credit is out. */
  onTopUpError?: (error: unknown) => void
}

type Socket<W extends WebSocketClass> = InstanceType<W>
type Attempt<W extends WebSocketClass> = { ws?: Socket<W>; response: Response }

const b64url = (value: string) => value.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
/** ws://host → http://host, wss://host → https://host: the origin its credit and budget belong to. */
const httpUrl = (url: string) => url.replace(/^ws(s?):/i, 'http$1:')

/**
 * Opens a paid WebSocket: with this origin's credit token if the client has one, else it
 * pays the 402 of the upgrade (an exact payment, or the deposit of a billed stream), within
 * the budget; a new token is kept; `x402.credit_low` warnings are answered with a top-up.
 * Resolves once open; rejects with `BudgetExceededError` before anything is signed, or
 * `PaymentFailedError` when the upgrade is refused.
 *
 * @example
 * const ws = await payingWebSocket(pay, 'wss://api.example.com/feed', { WebSocket })
 * ws.on('message', (data) => console.log(String(data)))
 */
export async function payingWebSocket<W extends WebSocketClass>(
  paying: PayingFetch,
  url: string,
  options: PayingWebSocketOptions<W>,
): Promise<Socket<W>> {
  const parts = (paying as unknown as Record<symbol, PayingParts>)[payingParts]
  if (!parts) throw new X402Error('invalid_config', { message: 'payingWebSocket needs a fetch made by wrapFetch()' })
  if (typeof options?.WebSocket !== 'function') {
    throw new X402Error('invalid_config', {
      message: "give the WebSocket class: client.websocket(url, { WebSocket }) with import WebSocket from 'ws'",
    })
  }
  const { payer, book } = parts
  const http = httpUrl(url)
  const origin = new URL(http).origin
  const via = options.via ?? 'header'
  const topUpAmount =
    options.topUp !== undefined ? parseMoney(options.topUp, { name: 'topUp' }) : (parts.topUpAmount ?? undefined)
  const topUps = book && topUpAmount ? createTopUps({ base: parts.base, book, payer, amount: topUpAmount }) : undefined

  /** One upgrade with these credentials: the open socket, or the refusal as a Response. */
  const attempt = (credentials: Record<string, string>): Promise<Attempt<W>> =>
    new Promise((resolve, reject) => {
      const target = new URL(url)
      const protocols = [...(options.protocols ?? [])]
      const headers: Record<string, string> = { ...options.headers }
      for (const [name, value] of Object.entries(credentials)) {
        const lower = name.toLowerCase()
        const token = lower === 'authorization' ? value.replace(/^Bearer\s+/i, '') : undefined
        if (via === 'header') headers[name] = value
        else if (via === 'subprotocol') protocols.push(token ? `x402-token.${token}` : `x402-payment.${b64url(value)}`)
        else target.searchParams.set(token ? 'x402-token' : 'x402-payment', token ?? b64url(value))
      }
      if (via === 'subprotocol' && protocols.length > (options.protocols?.length ?? 0))
        protocols.splice(options.protocols?.length ?? 0, 0, 'x402')
      const ws = new options.WebSocket(target.href, protocols, { headers }) as Socket<W>
      let head: Headers = new Headers()
      ws.on('upgrade', ((res: { headers: Record<string, string | string[] | undefined> }) => {
        head = toHeaders(res.headers)
      }) as never)
      ws.once('open', (() => {
        // Held until the caller's listeners are on: what the server sends at once is not lost.
        ws.pause?.()
        resolve({ ws, response: new Response(null, { status: 200, headers: head }) })
      }) as never)
      ws.on('unexpected-response', ((req: { destroy(): void }, res: NodeResponse) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => {
          req.destroy()
          resolve({ response: new Response(body, { status: res.statusCode ?? 502, headers: toHeaders(res.headers) }) })
        })
      }) as never)
      ws.once('error', ((error: Error) => reject(error)) as never)
    })

  const tokenNow = () => book?.token(origin)
  const auth = (): Record<string, string> => {
    const token = tokenNow()
    return token ? { authorization: `Bearer ${token}` } : {}
  }
  let last = await attempt(auth())
  if (!last.ws && last.response.status === 401 && tokenNow()) {
    book?.forget(origin, tokenNow() as string)
    last = await attempt({})
  }
  if (!last.ws && last.response.status === 402) {
    // Paid like any 402 (budget, receipts); a billed stream's deposit with the token tops up that account.
    await payer.pay(last.response, {
      url: http,
      method: 'GET',
      send: async (_to, extra) => {
        last = await attempt({ ...auth(), ...extra })
        return last.response
      },
    })
  }
  const ws = last.ws
  if (!ws) {
    const text = await last.response.text()
    throw new PaymentFailedError(
      `the WebSocket upgrade of ${url} was refused: HTTP ${last.response.status} ${text.slice(0, 300)}`,
      {
        url,
        status: last.response.status,
      },
    )
  }
  const issued = last.response.headers.get('x-402x-credit-token')
  if (issued && book) book.remember(origin, issued)
  setTimeout(() => ws.resume?.(), 0)
  ws.on('message', ((data: unknown) => {
    const text = typeof data === 'string' ? data : String(data)
    if (!text.startsWith('{"type":"x402.')) return
    let notice: { type?: string; token?: string; topUp?: string }
    try {
      notice = JSON.parse(text)
    } catch {
      return
    }
    if (notice.type === 'x402.credit' && notice.token && book) book.remember(origin, notice.token)
    if (notice.type !== 'x402.credit_low' || !topUps || !notice.topUp) return
    // Credit is bought only from the origin that uses it: the token never goes elsewhere.
    if (!URL.canParse(notice.topUp) || new URL(notice.topUp).origin !== origin) return
    topUps.topUp(origin, { topUp: notice.topUp }, topUpAmount as bigint).catch((error) => options.onTopUpError?.(error))
  }) as never)
  return ws
}

type NodeResponse = {
  statusCode?: number
  headers: Record<string, string | string[] | undefined>
  setEncoding(encoding: string): void
  on(event: string, listener: (chunk: string) => void): void
}

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const out = new Headers()
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue
    out.set(name, Array.isArray(value) ? value.join(', ') : value)
  }
  return out
}
