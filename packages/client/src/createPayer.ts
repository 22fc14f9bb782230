import {
  createPayment,
  createPaymentV1,
  createSiwxExtension,
  decodeHeader,
  encodeHeader,
  formatMoney,
  headers,
  PaymentRequiredSchema,
  type PaymentRequirements,
  PaymentRequirementsV1Schema,
  type SettleResponse,
  SettleResponseSchema,
  signSiwx,
  siwxHeader,
  toRequirementsV2,
} from '@402x/core'
import { z } from 'zod'
import type { BudgetTracker } from './budget.js'
import { canPayAsset, describePayable } from './payableAssets.js'
import { PaymentFailedError } from './paymentFailedError.js'
import type { Receipt } from './types.js'

export type PayerOptions = {
  privateKey: string
  /** The payer's address. */
  from: string
  tracker: BudgetTracker
  allowedAssets?: { network: string; asset: string }[]
  /** Every receipt is pushed here, then given to `onReceipt`. */
  receipts: Receipt[]
  onReceipt?: (receipt: Receipt) => void
}

/** How to pay one 402. */
export type PayAttempt = {
  /** The URL asked (for messages; the payment goes to where the 402 came from). */
  url: string
  method: string
  /** Sends the request again with these headers added. It must not follow a redirect. */
  send: (url: string, extra: Record<string, string>) => Promise<Response>
  /** The payment buys prepaid credit: its receipt says so. */
  topUp?: boolean
}

type Option = { requirements: PaymentRequirements; v1?: z.infer<typeof PaymentRequirementsV1Schema> }

/** What a 402 asks for: the options this client can pay, cheapest first. */
export type Quote = {
  options: [Option, ...Option[]]
  resource?: { url: string }
  extensions?: Record<string, unknown>
}

const V1BodySchema = z.looseObject({ x402Version: z.literal(1), accepts: z.array(PaymentRequirementsV1Schema) })

/**
 * Pays 402s (x402 v2 from `PAYMENT-REQUIRED`, or v1 from the body) with the cheapest exact
 * option it can pay, within the budget; keeps the receipts.
 *
 * @example
 * const payer = createPayer({ privateKey, from, tracker, receipts: [] })
 * const paid = await payer.pay(first, { url, method: 'GET', send })
 */
export function createPayer(options: PayerOptions) {
  const { privateKey, from, tracker } = options
  const assetAllowed = (r: PaymentRequirements) => canPayAsset(r, options.allowedAssets)

  /**
   * The options of a 402 this client can pay, cheapest first; `undefined` when the answer is
   * not an x402 402. Throws `PaymentFailedError` when it is one but nothing in it can be paid.
   */
  const quote = async (response: Response, url: string): Promise<Quote | undefined> => {
    const header = response.headers.get(headers.paymentRequired)
    let candidates: Option[]
    let resource: { url: string } | undefined
    let extensions: Record<string, unknown> | undefined
    if (header) {
      const decoded = decodeHeader(header, PaymentRequiredSchema)
      if (!decoded.ok) {
        throw new PaymentFailedError(`the server's PAYMENT-REQUIRED header is invalid: ${decoded.error.message}`, {
          url,
        })
      }
      candidates = decoded.value.accepts.map((requirements) => ({ requirements }))
      resource = decoded.value.resource
      extensions = decoded.value.extensions
    } else {
      const v1 = V1BodySchema.safeParse(
        await response
          .clone()
          .json()
          .catch(() => undefined),
      )
      if (!v1.success) return undefined
      candidates = v1.data.accepts.map((v1r) => ({ requirements: toRequirementsV2(v1r), v1: v1r }))
    }
    const usable = candidates.filter((c) => c.requirements.scheme === 'exact' && assetAllowed(c.requirements))
    usable.sort((a, b) => (BigInt(a.requirements.amount) < BigInt(b.requirements.amount) ? -1 : 1))
    if (usable.length === 0) {
      throw new PaymentFailedError(
        `no payment option of ${url} can be paid: it asks for ${candidates.map((c) => `${c.requirements.scheme} ${c.requirements.asset} on ${c.requirements.network}`).join(', ') || 'nothing'}; this client pays the exact scheme in ${describePayable(options.allowedAssets)}. Add an asset with allowedAssets: [{ network, asset }]`,
        { url },
      )
    }
    return {
      options: usable as Quote['options'],
      ...(resource ? { resource } : {}),
      ...(extensions ? { extensions } : {}),
    }
  }

  /** Pays `first` (a 402) and sends the request again with the payment. */
  const pay = async (first: Response, attempt: PayAttempt): Promise<Response> => {
    const quoted = await quote(first, attempt.url)
    if (!quoted) return first
    const choice = quoted.options[0]
    const amount = BigInt(choice.requirements.amount)
    // After redirects, the 402 came from where the request ended up: budget and pay that.
    const target = first.url || attempt.url
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
              ...(quoted.resource ? { resource: quoted.resource } : {}),
              ...(quoted.extensions ? { extensions: quoted.extensions } : {}),
            }),
          ),
        }
    let paid = await attempt.send(target, paymentHeader)
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
      paid = await attempt.send(target, { ...paymentHeader, [siwxHeader]: encodeHeader(proof) })
    }
    const settle = readSettle(paid)
    if (settle?.success || settle?.errorReason === 'settlement_pending') {
      tracker.spend(hold)
      const receipt: Receipt = {
        url: target,
        method: attempt.method,
        amount,
        price: formatMoney(amount),
        payTo: choice.requirements.payTo,
        payer: from,
        network: choice.requirements.network,
        asset: choice.requirements.asset,
        transaction: settle.transaction,
        status: settle.success ? 'settled' : 'pending',
        at: new Date(),
        ...(attempt.topUp ? { topUp: true as const } : {}),
      }
      options.receipts.push(receipt)
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

  return { quote, pay }
}

export type Payer = ReturnType<typeof createPayer>

/** Whether a 503 says the settlement's outcome is not known yet (retry with the same payment). */
async function settlementUnknown(response: Response): Promise<boolean> {
  if (response.status !== 503) return false
  const body = (await response
    .clone()
    .json()
    .catch(() => undefined)) as { error?: string } | undefined
  return body?.error === 'settlement_unknown' || body?.error === 'payment_in_flight'
}

function readSettle(response: Response): SettleResponse | undefined {
  const value = response.headers.get(headers.paymentResponse) ?? response.headers.get(headers.v1PaymentResponse)
  if (!value) return undefined
  const decoded = decodeHeader(value, SettleResponseSchema)
  return decoded.ok ? decoded.value : undefined
}

/** The refusal reason in a 402's PAYMENT-REQUIRED header, if any. */
export function refusalOf(response: Response): string | undefined {
  const value = response.headers.get(headers.paymentRequired)
  if (!value) return undefined
  const decoded = decodeHeader(value, PaymentRequiredSchema)
  return decoded.ok ? decoded.value.error : undefined
}
