import { randomBytes } from 'node:crypto'
import {
  createPayment,
  findNetwork,
  formatMoney,
  type PaymentRequired,
  PaymentRequiredSchema,
  type PaymentRequirements,
  recoverAddress,
  SettleResponseSchema,
  signDigest,
} from '@402x/core'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import type { BudgetTracker, Receipt } from '402x-client'

/** What paying an MCP tool needs: the wallet, the shared budget, and where receipts go. */
export type ToolPayer = {
  privateKey: string
  tracker: BudgetTracker
  /** Assets it may pay besides USDC on the known networks (the running `402x dev`'s). */
  allowedAssets: { network: string; asset: string }[]
  onReceipt(receipt: Receipt): void
}

export type PaidToolCall = {
  /** The paid tool's result, with `_meta['x402/payment-response']` when it was paid. */
  result: CallToolResult
  receipt?: Receipt
  /** Why a payment-required result was not paid, or was refused. */
  refused?: { reason: string; message: string }
}

/** The address of a private key, from a signature it makes (core has no key-to-address helper). */
export function addressOf(privateKey: string): string {
  const digest = randomBytes(32)
  const signature = signDigest(digest, Buffer.from(privateKey.replace(/^0x/, ''), 'hex'))
  const address = recoverAddress(digest, signature)
  if (!address) throw new Error('the wallet key does not sign: check X402_PRIVATE_KEY')
  return address
}

/** The `PaymentRequired` of a tool result, read as x402's MCP transport says: structured, else text. */
export function paymentRequiredOf(result: CallToolResult): PaymentRequired | undefined {
  if (!result.isError) return undefined
  const structured = PaymentRequiredSchema.safeParse(result.structuredContent)
  if (structured.success) return structured.data
  const first = result.content?.[0]
  if (first?.type !== 'text') return undefined
  try {
    const parsed = PaymentRequiredSchema.safeParse(JSON.parse(first.text))
    return parsed.success ? parsed.data : undefined
  } catch {
    return undefined
  }
}

const payable = (r: PaymentRequirements, allowed: ToolPayer['allowedAssets']) => {
  if (r.scheme !== 'exact') return false
  const network = findNetwork(r.network)
  if (!network?.id.startsWith('eip155:')) return false
  const asset = r.asset.toLowerCase()
  if (network.usdc?.address.toLowerCase() === asset) return true
  return allowed.some((a) => a.asset.toLowerCase() === asset && findNetwork(a.network)?.id === network.id)
}

/**
 * Calls a tool of a remote MCP server (streamable HTTP) and, when it answers with x402's
 * payment-required result, pays it within the budget and calls again with the payment in
 * `_meta['x402/payment']` (coinbase/x402 `specs/transports-v2/mcp.md`). A budget limit
 * throws `BudgetExceededError` before anything is signed.
 */
export async function callPaidTool(
  payer: ToolPayer,
  input: { url: string; tool: string; arguments?: Record<string, unknown>; headers?: Record<string, string> },
): Promise<PaidToolCall> {
  const client = new Client({ name: '402x-mcp', version: '0.1.0' })
  const transport = new StreamableHTTPClientTransport(new URL(input.url), {
    ...(input.headers ? { requestInit: { headers: input.headers } } : {}),
  })
  await client.connect(transport)
  try {
    const params = { name: input.tool, ...(input.arguments ? { arguments: input.arguments } : {}) }
    const first = (await client.callTool(params)) as CallToolResult
    const required = paymentRequiredOf(first)
    if (!required) return { result: first }
    const requirements = required.accepts.find((r) => payable(r, payer.allowedAssets))
    if (!requirements) {
      return {
        result: first,
        refused: {
          reason: 'no_payable_option',
          message: `the tool asks for ${required.accepts.map((r) => `${r.scheme} ${r.asset} on ${r.network}`).join(', ')}; this wallet pays the exact scheme in USDC (or the running 402x dev's)`,
        },
      }
    }
    const amount = BigInt(requirements.amount)
    const host = new URL(input.url).host
    const until = Date.now() + (requirements.maxTimeoutSeconds + 30) * 1000
    const hold = payer.tracker.hold(amount, host, requirements.payTo, until)
    const from = addressOf(payer.privateKey)
    const payment = createPayment({
      privateKey: payer.privateKey,
      from,
      requirements,
      ...(required.resource ? { resource: required.resource } : {}),
    })
    const second = (await client.callTool({ ...params, _meta: { 'x402/payment': payment } })) as CallToolResult
    const settle = SettleResponseSchema.safeParse(second._meta?.['x402/payment-response'])
    if (settle.success && settle.data.success) {
      payer.tracker.spend(hold)
      const receipt: Receipt = {
        url: input.url,
        method: `tools/call ${input.tool}`,
        amount,
        price: formatMoney(amount),
        payTo: requirements.payTo,
        payer: from,
        network: requirements.network,
        asset: requirements.asset,
        transaction: settle.data.transaction,
        status: 'settled',
        at: new Date(),
      }
      payer.onReceipt(receipt)
      return { result: second, receipt }
    }
    const again = paymentRequiredOf(second)
    // Refused (a payment-required answer): nothing was taken. Anything else leaves the hold
    // until the signed payment expires: it could still be settled until then.
    if (again) payer.tracker.release(hold)
    return {
      result: second,
      ...(again
        ? { refused: { reason: again.error ?? 'payment_refused', message: 'the tool refused the payment' } }
        : {}),
    }
  } finally {
    await client.close().catch(() => {})
  }
}
