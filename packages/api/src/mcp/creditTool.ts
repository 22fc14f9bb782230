import { checkOptions, decodeHeader, formatMoney, headers, rule, SettleResponseSchema, X402Error } from '@402x/core'
import type { McpServer, RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import type { Paywall } from '../paywall/createPaywall.js'
import { creditsPath } from '../paywall/credits.js'
import { mcpBazaar } from './mcpBazaar.js'
import { metaKeys } from './metaKeys.js'
import { serverPaywall } from './serverPaywall.js'
import { toolName, toolRequest } from './toolRequest.js'
import { refusalResult, refused } from './toolResults.js'

/** Options of {@link creditTool}. */
export type CreditToolOptions = {
  /**
   * The paywall whose credit it sells: the one the server's paid tools use.
   * @default the server's own paywall, as `paidTool` without `paywall`
   */
  paywall?: Paywall
  /** The tool's name. @default 'buy_credit' */
  name?: string
  /** Shown in `tools/list`. @default what it does and how, with the paywall's top-up range */
  description?: string
}

const rules = {
  paywall: {
    expect: 'a paywall (createPaywall({ routes: {}, … }))',
    test: (v: unknown) => typeof (v as { handle?: unknown } | null)?.handle === 'function',
  },
  name: rule.string('a tool name: 1 to 128 of A-Z a-z 0-9 _ . -'),
  description: rule.string(),
}

/** The credit tool of each server, by paywall: what `paidTool`'s challenges offer. */
const registered = new WeakMap<McpServer, WeakMap<Paywall, string>>()

/** The name of the tool that sells this paywall's credit on this server, if there is one. */
export const creditToolOf = (server: McpServer, paywall: Paywall): string | undefined =>
  registered.get(server)?.get(paywall)

const inputSchema = {
  amount: z
    .union([z.string(), z.number()])
    .describe('dollars of credit to buy, e.g. "1": within the minimum and maximum the challenge offers'),
}

/**
 * Registers the MCP tool that sells prepaid credit, the MCP side of REST's
 * `POST /__402x/credits?amount=`: called with `{ amount }` and no payment, it answers x402's
 * payment-required result for that amount; paid (`_meta['x402/payment']`), it settles, puts
 * the money in a credit account and answers the account's token (`structuredContent.token`),
 * which the agent then sends in `_meta['402x/credit']` to pay the paid tools from credit.
 * With a token in `_meta['402x/credit']`, it tops up that account. Once it is registered,
 * every payment-required result of the server's paid tools on the same paywall offers it
 * (`extensions['402x-credits']`, with `tool`).
 *
 * @example
 * creditTool(server, { paywall })
 * // an agent: callTool({ name: 'buy_credit', arguments: { amount: '1' }, _meta: { 'x402/payment': payment } })
 */
export function creditTool(server: McpServer, options: CreditToolOptions = {}): RegisteredTool {
  checkOptions(options as Record<string, unknown>, rules, 'creditTool(server)')
  const name = options.name ?? 'buy_credit'
  if (!toolName.test(name)) {
    throw new X402Error('invalid_config', {
      message: `creditTool(server, { name: '${name}' }): a tool name is 1 to 128 of A-Z a-z 0-9 _ . -`,
    })
  }
  const paywall = options.paywall ?? serverPaywall(server)
  const credits = paywall.config.credits
  if (!credits) {
    throw new X402Error('invalid_config', {
      message: 'creditTool(server): this paywall has credit turned off (credits: false): turn it on to sell credit',
    })
  }
  const route = paywall.match('POST', creditsPath)
  const description =
    options.description ??
    `Buys prepaid credit for this server's paid tools ($${formatMoney(credits.topUp.min, credits.decimals)} to $${formatMoney(credits.topUp.max, credits.decimals)}), paid with x402 in _meta['${metaKeys.payment}']; send the token it returns in _meta['${metaKeys.credit}'] with each paid call`
  const bazaar = mcpBazaar(name, description, inputSchema)
  // biome-ignore lint/suspicious/noExplicitAny: `extra` is the SDK's RequestHandlerExtra.
  const call = async ({ amount }: { amount: string | number }, extra: any): Promise<CallToolResult> => {
    const request = toolRequest(name, extra?._meta, { amount: String(amount) })
    if (!request.ok) return refused(request.reason, request.message, 400)
    const decision = await paywall.handle(request.head, route, { creditsServed: false })
    if (decision.type === 'proceed') {
      await decision.abort('a top-up is answered by the paywall itself')
      return refused('internal_error', 'the paywall did not answer this top-up; nothing was charged', 500)
    }
    if (decision.type === 'skip') return refused('internal_error', 'credit is not sold here', 500)
    const { response } = decision
    if (response.status !== 200) return refusalResult(response, bazaar)
    return bought(response)
  }
  const tool = server.registerTool(name, { description, inputSchema }, call)
  const byPaywall = registered.get(server) ?? new WeakMap<Paywall, string>()
  registered.set(server, byPaywall.set(paywall, name))
  return tool
}

/** The paid top-up's answer as a tool result: the token, what was credited, the settlement. */
async function bought(response: Response): Promise<CallToolResult> {
  const body = (await response.json()) as Record<string, unknown>
  const structured = {
    ...body,
    use: `send the token in _meta['${metaKeys.credit}'] with each paid tool call`,
  }
  const settle = response.headers.get(headers.paymentResponse)
  const decoded = settle ? decodeHeader(settle, SettleResponseSchema) : undefined
  return {
    structuredContent: structured,
    content: [{ type: 'text', text: JSON.stringify(structured) }],
    ...(decoded?.ok ? { _meta: { [metaKeys.paymentResponse]: decoded.value } } : {}),
  }
}
