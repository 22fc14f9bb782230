import {
  checkOptions,
  decodeHeader,
  PaymentRequiredSchema,
  readDevState,
  SettleResponseSchema,
  X402Error,
  headers as x402Headers,
} from '@402x/core'
import type { Budget } from './budget.js'
import { creditReceiptOf } from './creditHeaders.js'
import { clientRules } from './optionRules.js'
import { type PayingWebSocketOptions, payingWebSocket, type WebSocketClass } from './payingWebSocket.js'
import type { CreditReceipt, CreditState, Receipt } from './types.js'
import { streamReceiptOf } from './watchCreditStream.js'
import { type PayingFetch, receiptOf, type WrapFetchOptions, wrapFetch } from './wrapFetch.js'

/**
 * The type of `data` when none is given: `any`, like axios, so that the seed's
 * `response.data.translation` reads as written in TypeScript too. Pass a type to check it.
 */
// biome-ignore lint/suspicious/noExplicitAny: axios-compatible default, see above.
type AnyData = any

/** A response with its body already read: `data` is parsed JSON, or text. */
export type X402Response<T = AnyData> = {
  status: number
  ok: boolean
  headers: Headers
  data: T
  /** The payment made for this response, if one was. */
  receipt?: Receipt
  /**
   * What it cost from prepaid credit, if it was credit-funded or metered: its `X-402x-Receipt`,
   * or a stream's final `x402-receipt` event.
   */
  credit?: CreditReceipt
}

/** A non-2xx answer, after any payment. */
export class X402HttpError extends X402Error {
  override readonly name = 'X402HttpError'
  constructor(readonly response: X402Response) {
    super('payment_failed', {
      message: `HTTP ${response.status}: ${describe(response.data) || headerReason(response.headers) || JSON.stringify(response.data).slice(0, 200)}`,
      details: { status: response.status },
    })
  }
}

const describe = (data: unknown) => {
  if (data && typeof data === 'object') {
    const d = data as { message?: unknown; error?: unknown; reason?: unknown }
    return [d.reason, d.message ?? d.error].filter(Boolean).join(': ')
  }
  return String(data).slice(0, 200)
}

/**
 * The reason x402 headers give. A server like the reference answers a refusal with the body
 * `{}`: its reason is only in `PAYMENT-RESPONSE` (settlement) or `PAYMENT-REQUIRED` (verify).
 */
const headerReason = (headers: Headers) => {
  const settle = headers.get(x402Headers.paymentResponse)
  const settled = settle ? decodeHeader(settle, SettleResponseSchema) : undefined
  if (settled?.ok && !settled.value.success) {
    return [settled.value.errorReason, settled.value.errorMessage].filter(Boolean).join(': ')
  }
  const required = headers.get(x402Headers.paymentRequired)
  const decoded = required ? decodeHeader(required, PaymentRequiredSchema) : undefined
  return decoded?.ok ? (decoded.value.error ?? '') : ''
}

type RequestConfig = { headers?: Record<string, string>; signal?: AbortSignal }

export type X402Client = {
  /** A fetch that pays. */
  fetch: PayingFetch
  get<T = AnyData>(url: string, config?: RequestConfig): Promise<X402Response<T>>
  delete<T = AnyData>(url: string, config?: RequestConfig): Promise<X402Response<T>>
  post<T = AnyData>(url: string, body?: unknown, config?: RequestConfig): Promise<X402Response<T>>
  put<T = AnyData>(url: string, body?: unknown, config?: RequestConfig): Promise<X402Response<T>>
  patch<T = AnyData>(url: string, body?: unknown, config?: RequestConfig): Promise<X402Response<T>>
  /** Every payment made (top-ups of credit included), oldest first. */
  receipts: Receipt[]
  /** Prepaid credit per origin: token, last known balance (dollars), where to buy more. */
  readonly credits: CreditState
  /** Atomic units spent (top-ups of credit included; spending credit is not new spend). */
  spent(): bigint
  /**
   * Opens a paid WebSocket (`ws://`, `wss://`) within the same budget: pays its 402 on connect
   * (exact, or a billed stream's deposit), spends this origin's credit token, tops up when warned.
   */
  websocket<W extends WebSocketClass>(url: string, options: PayingWebSocketOptions<W>): Promise<InstanceType<W>>
}

export type CreateX402ClientOptions = Omit<WrapFetchOptions, 'tracker'> & {
  /** The fetch to wrap. @default globalThis.fetch */
  fetch?: typeof fetch
}

/**
 * A client that pays x402 APIs within a budget, with axios-like helpers. Non-2xx answers
 * throw `X402HttpError`; a payment over budget throws `BudgetExceededError` before anything
 * is signed.
 *
 * @example
 * const client = createX402Client({ wallet: '0x…', budget: { maxPerRequest: 0.05, maxTotal: 5 } })
 * const { data } = await client.post('https://api.example.com/translate', { text: 'Hello' })
 */
export function createX402Client(options: CreateX402ClientOptions): X402Client {
  checkOptions(options, clientRules, 'createX402Client()')
  const { fetch: base, ...rest } = options
  const paying = wrapFetch(base ?? globalThis.fetch, rest)
  const request = async <T>(method: string, url: string, body: unknown, config: RequestConfig = {}) => {
    const headers = new Headers(config.headers)
    let payload: NonNullable<RequestInit['body']> | undefined
    if (body !== undefined) {
      if (typeof body === 'string' || body instanceof Uint8Array || body instanceof URLSearchParams) {
        payload = body as NonNullable<RequestInit['body']>
      } else {
        payload = JSON.stringify(body)
        if (!headers.has('content-type')) headers.set('content-type', 'application/json')
      }
    }
    if (!headers.has('accept')) headers.set('accept', 'application/json, text/plain, */*')
    const response = await paying(url, {
      method,
      headers,
      ...(payload === undefined ? {} : { body: payload }),
      ...(config.signal ? { signal: config.signal } : {}),
    })
    const text = await response.text()
    let data: unknown = text
    if ((response.headers.get('content-type') ?? '').includes('json') && text) {
      try {
        data = JSON.parse(text)
      } catch {
        data = text
      }
    }
    const receipt = receiptOf(response)
    // The body is read: a stream's final receipt, if it had one, has been seen.
    const credit = creditReceiptOf(response) ?? (await streamReceiptOf(response))
    const result: X402Response<T> = {
      status: response.status,
      ok: response.ok,
      headers: response.headers,
      data: data as T,
      ...(receipt ? { receipt } : {}),
      ...(credit ? { credit } : {}),
    }
    if (!response.ok) throw new X402HttpError(result)
    return result
  }
  return {
    fetch: paying,
    get: (url, config) => request('GET', url, undefined, config),
    delete: (url, config) => request('DELETE', url, undefined, config),
    post: (url, body, config) => request('POST', url, body, config),
    put: (url, body, config) => request('PUT', url, body, config),
    patch: (url, body, config) => request('PATCH', url, body, config),
    receipts: paying.receipts,
    get credits() {
      return paying.credits
    },
    spent: () => paying.tracker.spent(),
    websocket: (url, wsOptions) => payingWebSocket(paying, url, wsOptions),
  }
}

/**
 * Reads the client's settings from the environment (`X402_PRIVATE_KEY`,
 * `X402_MAX_PER_REQUEST`, `X402_MAX_TOTAL`, `X402_MAX_PER_HOST`, `X402_MAX_PER_DAY`,
 * `X402_ALLOWED_HOSTS`), else from a running `402x dev` (its funded buyer and its USDC).
 */
export function clientOptionsFromEnv(env: Record<string, string | undefined> = process.env): CreateX402ClientOptions {
  const dev = readDevState()
  const wallet = env.X402_PRIVATE_KEY ?? dev?.buyerPrivateKey
  if (!wallet) {
    throw new X402Error('invalid_config', {
      message:
        'X402_PRIVATE_KEY is not set: set X402_PRIVATE_KEY=0x… (the paying wallet), use createX402Client({ wallet }), or run `402x dev` for a funded local wallet',
    })
  }
  const budget: Budget = {}
  if (env.X402_MAX_PER_REQUEST) budget.maxPerRequest = env.X402_MAX_PER_REQUEST
  if (env.X402_MAX_TOTAL) budget.maxTotal = env.X402_MAX_TOTAL
  if (env.X402_MAX_PER_HOST) budget.maxPerHost = env.X402_MAX_PER_HOST
  if (env.X402_MAX_PER_DAY) budget.maxPerDay = env.X402_MAX_PER_DAY
  if (env.X402_ALLOWED_HOSTS) budget.allowedHosts = env.X402_ALLOWED_HOSTS.split(',').map((h) => h.trim())
  return {
    wallet,
    budget,
    ...(dev ? { allowedAssets: [{ network: dev.network, asset: dev.asset }] } : {}),
  }
}

let shared: X402Client | undefined
const lazy = () => {
  shared ??= createX402Client(clientOptionsFromEnv())
  return shared
}

/**
 * The ready-made client: its wallet and budget come from the environment or a running
 * `402x dev`, read on first use.
 *
 * @example
 * const response = await x402Client.post('https://api.example.com/translate', { text: 'Hello, world!', targetLang: 'es' })
 * console.log(response.data.translation)
 */
export const x402Client: Omit<X402Client, 'receipts' | 'fetch' | 'credits'> & {
  readonly receipts: Receipt[]
  readonly credits: CreditState
  readonly fetch: PayingFetch
} = {
  get: (url, config) => lazy().get(url, config),
  delete: (url, config) => lazy().delete(url, config),
  post: (url, body, config) => lazy().post(url, body, config),
  put: (url, body, config) => lazy().put(url, body, config),
  patch: (url, body, config) => lazy().patch(url, body, config),
  spent: () => lazy().spent(),
  websocket: (url, options) => lazy().websocket(url, options),
  get receipts() {
    return lazy().receipts
  },
  get credits() {
    return lazy().credits
  },
  get fetch() {
    return lazy().fetch
  },
}
