import {
  createPayment,
  createPaymentV1,
  createSiwxExtension,
  decodeHeader,
  encodeHeader,
  findNetwork,
  formatMoney,
  headers,
  PaymentRequiredSchema,
  type PaymentRequirements,
  PaymentRequirementsV1Schema,
  type SettleResponse,
  SettleResponseSchema,
  type SiwxExtension,
  signSiwx,
  siwxExtensionKey,
  siwxHeader,
  toRequirementsV2,
  X402Error,
} from '@402x/core'
import { privateKeyToAddress } from 'viem/accounts'
import { z } from 'zod'
import { type Budget, type BudgetTracker, createBudgetTracker } from './budget.js'

/** One payment, as the client saw it settle. */
export type Receipt = {
  url: string
  method: string
  /** Atomic units. */
  amount: bigint
  /** Dollars, e.g. "0.01". */
  price: string
  payTo: string
  payer: string
  network: string
  asset: string
  /** The settlement transaction hash. */
  transaction: string
  /** `pending`: sent but not confirmed when the server answered. */
  status: 'settled' | 'pending'
  at: Date
}

export type WrapFetchOptions = {
  /** The payer's private key (0x…). */
  wallet: string | { privateKey: string }
  budget?: Budget
  /**
   * Assets it may pay with, besides USDC on the known networks: `{ network, asset }`.
   * Amounts are read as 6-decimal dollars, so only add dollar stablecoins.
   */
  allowedAssets?: { network: string; asset: string }[]
  /** Called with each receipt. */
  onReceipt?: (receipt: Receipt) => void
  /** Shares one budget between several clients. */
  tracker?: BudgetTracker
  /**
   * Answer a 402's `sign-in-with-x` challenge (prove the wallet, no payment) before paying:
   * free tiers per payer and volume prices need it. @default true
   */
  signIn?: boolean
}

export type PayingFetch = typeof fetch & { receipts: Receipt[]; tracker: BudgetTracker }

const V1BodySchema = z.looseObject({ x402Version: z.literal(1), accepts: z.array(PaymentRequirementsV1Schema) })

/** A payment the server refused or could not settle. */
export class PaymentFailedError extends X402Error {
  override readonly name = 'PaymentFailedError'
  constructor(message: string, details: Record<string, unknown>) {
    super('payment_failed', { message, details })
  }
}

/**
 * Wraps `fetch` so that a 402 is paid (x402 v2, or v1 from the body) within a budget, and
 * the request retried once with the payment.
 *
 * @example
 * const pay = wrapFetch(fetch, { wallet: process.env.X402_PRIVATE_KEY, budget: { maxPerRequest: 0.05 } })
 * const res = await pay('https://api.example.com/premium')
 */
export function wrapFetch(base: typeof fetch, options: WrapFetchOptions): PayingFetch {
  const privateKey = typeof options.wallet === 'string' ? options.wallet : options.wallet.privateKey
  if (!/^0x[0-9a-fA-F]{64}$/.test(privateKey)) {
    throw new X402Error('invalid_config', {
      message: 'wallet must be a 0x-prefixed 32-byte private key: pass `wallet` or set X402_PRIVATE_KEY=0x…',
    })
  }
  const from = privateKeyToAddress(privateKey as `0x${string}`)
  const tracker = options.tracker ?? createBudgetTracker(options.budget)
  const receipts: Receipt[] = []
  const assetAllowed = (r: PaymentRequirements) => {
    const known = findNetwork(r.network)
    if (!known?.id.startsWith('eip155:')) return false
    if (known.usdc?.address.toLowerCase() === r.asset.toLowerCase()) return true
    return (options.allowedAssets ?? []).some(
      (a) => a.asset.toLowerCase() === r.asset.toLowerCase() && findNetwork(a.network)?.id === known.id,
    )
  }

  /** A SIGN-IN-WITH-X header for a 402 that asks for one, bound to the origin asked. */
  const signInFor = (response: Response, requested: string): string | undefined => {
    const value = response.headers.get(headers.paymentRequired)
    const decoded = value ? decodeHeader(value, PaymentRequiredSchema) : undefined
    const extension = decoded?.ok
      ? (decoded.value.extensions?.[siwxExtensionKey] as SiwxExtension | undefined)
      : undefined
    const chain = extension?.supportedChains?.find((c) => c.type === 'eip191' && c.chainId.startsWith('eip155:'))
    if (!extension?.info || !chain) return undefined
    const origin = new URL(response.url || requested).origin
    if (new URL(extension.info.uri).origin !== origin || extension.info.domain !== new URL(origin).host)
      return undefined
    return encodeHeader(signSiwx({ info: extension.info, chainId: chain.chainId, privateKey, address: from }))
  }
  const paying = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init)
    // Keep the body so the paid retry can send it again.
    const body = request.body ? await request.arrayBuffer() : undefined
    const send = (url: string, extra?: Record<string, string>) => {
      const h = new Headers(request.headers)
      for (const [k, v] of Object.entries(extra ?? {})) h.set(k, v)
      return base(url, {
        method: request.method,
        headers: h,
        ...(body ? { body } : {}),
        // A payment goes only where it was asked for: never follow a redirect with it.
        redirect: extra ? 'manual' : request.redirect,
        signal: request.signal,
      })
    }
    const payFrom = async (first: Response): Promise<Response> => {
      const header = first.headers.get(headers.paymentRequired)
      let candidates: { requirements: PaymentRequirements; v1?: z.infer<typeof PaymentRequirementsV1Schema> }[]
      let resource: { url: string } | undefined
      let extensions: Record<string, unknown> | undefined
      if (header) {
        const decoded = decodeHeader(header, PaymentRequiredSchema)
        if (!decoded.ok) {
          throw new PaymentFailedError(`the server's PAYMENT-REQUIRED header is invalid: ${decoded.error.message}`, {
            url: request.url,
          })
        }
        candidates = decoded.value.accepts.map((requirements) => ({ requirements }))
        resource = decoded.value.resource
        extensions = decoded.value.extensions
      } else {
        const v1 = V1BodySchema.safeParse(
          await first
            .clone()
            .json()
            .catch(() => undefined),
        )
        if (!v1.success) return first
        candidates = v1.data.accepts.map((v1r) => ({ requirements: toRequirementsV2(v1r), v1: v1r }))
      }
      const usable = candidates.filter((c) => c.requirements.scheme === 'exact' && assetAllowed(c.requirements))
      if (usable.length === 0) {
        throw new PaymentFailedError(
          `no payment option of ${request.url} can be paid: it asks for ${candidates.map((c) => `${c.requirements.scheme} ${c.requirements.asset} on ${c.requirements.network}`).join(', ') || 'nothing'}; this client pays exact USDC on ${['eip155:8453', 'eip155:84532', 'eip155:31337'].join(', ')} (add others with allowedAssets)`,
          { url: request.url },
        )
      }
      usable.sort((a, b) => (BigInt(a.requirements.amount) < BigInt(b.requirements.amount) ? -1 : 1))
      const choice = usable[0] as (typeof usable)[number]
      const amount = BigInt(choice.requirements.amount)
      // After redirects, the 402 came from where the request ended up: budget and pay that.
      const target = first.url || request.url
      const host = new URL(target).host
      const until = Date.now() + (choice.requirements.maxTimeoutSeconds + 30) * 1000
      const hold = tracker.hold(amount, host, choice.requirements.payTo, until)
      // If no answer comes back, the hold stays until the signed payment expires: it could
      // still be settled until then.
      const paymentHeader = choice.v1
        ? { [headers.v1Payment]: encodeHeader(createPaymentV1({ privateKey, from, requirements: choice.v1 })) }
        : {
            [headers.paymentSignature]: encodeHeader(
              createPayment({
                privateKey,
                from,
                requirements: choice.requirements,
                ...(resource ? { resource } : {}),
                ...(extensions ? { extensions } : {}),
              }),
            ),
          }
      let paid = await send(target, paymentHeader)
      // The server could not tell whether the settlement landed: the same payment is served
      // once and charged at most once, so retry with it (never sign a new one).
      let uncertain = false
      for (let i = 0; i < 3 && (await settlementUnknown(paid)); i++) {
        uncertain = true
        const wait = Math.min(Number(paid.headers.get('retry-after') ?? 2) || 2, 5)
        await new Promise((r) => setTimeout(r, wait * 1000))
        // Signed in as the payer: the server serves a paid response again only to its payer.
        const proof = signSiwx({
          info: createSiwxExtension({ url: target, networks: [choice.requirements.network] }).info,
          chainId: choice.requirements.network,
          privateKey,
          address: from,
        })
        paid = await send(target, { ...paymentHeader, [siwxHeader]: encodeHeader(proof) })
      }
      const settle = readSettle(paid)
      if (settle?.success || settle?.errorReason === 'settlement_pending') {
        tracker.spend(hold)
        const receipt: Receipt = {
          url: target,
          method: request.method,
          amount,
          price: formatMoney(amount),
          payTo: choice.requirements.payTo,
          payer: from,
          network: choice.requirements.network,
          asset: choice.requirements.asset,
          transaction: settle.transaction,
          status: settle.success ? 'settled' : 'pending',
          at: new Date(),
        }
        receipts.push(receipt)
        options.onReceipt?.(receipt)
        Object.defineProperty(paid, 'receipt', { value: receipt })
      } else if ((paid.status === 402 || paid.status === 400) && !uncertain) {
        // Refused or not settled: nothing was charged. (After an unknown settlement outcome
        // a refusal proves nothing: the hold stays until the authorization expires.)
        tracker.release(hold)
      }
      // Any other answer (a 5xx, say) leaves the hold until the authorization expires.
      return paid
    }
    let first = await send(request.url)
    if (first.status !== 402) return first
    // The server wants to know who is asking (a free tier per payer, or a payer's own
    // price): sign in (SIGN-IN-WITH-X, no payment) first, and pay only if it still says 402.
    const proof = options.signIn === false ? undefined : signInFor(first, request.url)
    if (proof) {
      const again = await send(first.url || request.url, { [siwxHeader]: proof })
      if (again.status !== 402) return again
      first = again
    }
    const paid = await payFrom(first)
    // The price changed between the quote and the payment (the hour turned, say): nothing
    // was charged; pay the new price once.
    if (paid.status === 402 && refusalOf(paid) === 'price_changed') return payFrom(paid)
    return paid
  }
  return Object.assign(paying as typeof fetch, { receipts, tracker })
}

/** Whether a 503 says the settlement's outcome is not known yet (retry with the same payment). */
async function settlementUnknown(response: Response): Promise<boolean> {
  if (response.status !== 503) return false
  const body = (await response
    .clone()
    .json()
    .catch(() => undefined)) as { error?: string } | undefined
  return body?.error === 'settlement_unknown' || body?.error === 'payment_in_flight'
}

/** The refusal reason in a 402's PAYMENT-REQUIRED header, if any. */
function refusalOf(response: Response): string | undefined {
  const value = response.headers.get(headers.paymentRequired)
  if (!value) return undefined
  const decoded = decodeHeader(value, PaymentRequiredSchema)
  return decoded.ok ? decoded.value.error : undefined
}

function readSettle(response: Response): SettleResponse | undefined {
  const value = response.headers.get(headers.paymentResponse) ?? response.headers.get(headers.v1PaymentResponse)
  if (!value) return undefined
  const decoded = decodeHeader(value, SettleResponseSchema)
  return decoded.ok ? decoded.value : undefined
}

/** The receipt a paid response carries, if it was paid. */
export function receiptOf(response: Response): Receipt | undefined {
  return (response as Response & { receipt?: Receipt }).receipt
}
