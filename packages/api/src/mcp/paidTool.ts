import { checkOptions, X402Error } from '@402x/core'
import type { McpServer, RegisteredTool, ToolCallback } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { AnySchema, ZodRawShapeCompat } from '@modelcontextprotocol/sdk/server/zod-compat.js'
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js'
import type { Paywall } from '../paywall/createPaywall.js'
import type { Price } from '../paywall/types.js'
import { creditToolOf } from './creditTool.js'
import { mcpBazaar } from './mcpBazaar.js'
import { paidToolRules } from './paidToolRules.js'
import { serverPaywall } from './serverPaywall.js'
import { toolName, toolRequest } from './toolRequest.js'
import { refusalResult, refused, withReceipt } from './toolResults.js'

/** What a tool's price function sees: the tool's name and its validated arguments. */
export type ToolCall = {
  tool: string
  // biome-ignore lint/suspicious/noExplicitAny: the arguments are the tool's own input schema's.
  arguments: any
}

type Schema = ZodRawShapeCompat | AnySchema

/** Options of {@link paidTool}: the price, and what `McpServer.registerTool` takes. */
export type PaidToolOptions<Args extends Schema | undefined = undefined, Out extends Schema = ZodRawShapeCompat> = {
  /**
   * Dollars per call (`0.01`, `"$0.01"`), or a function of the call that returns them (the
   * same price for the unpaid and the paid attempt of a call, as on REST). `0`: free.
   */
  price: Price | ((call: ToolCall) => Price | Promise<Price>)
  /** Shown in `tools/list` and in the payment-required result. */
  description?: string
  title?: string
  /** The tool's arguments (zod), validated before any payment is looked at. */
  inputSchema?: Args
  /** The tool's `structuredContent` (zod). */
  outputSchema?: Out
  annotations?: ToolAnnotations
  /** The tool definition's `_meta`. */
  _meta?: Record<string, unknown>
  /**
   * The paywall that verifies, settles and records (`createPaywall({ routes: {}, … })`), shared
   * with your HTTP routes or other tools so that they share its ledger and credit.
   * @default one paywall per server, configured from the environment as `x402Middleware` is
   * (`X402_PAY_TO`, `402x.config.json` or a running `402x dev`), closed when the server closes
   */
  paywall?: Paywall
  /** How long a signed payment stays valid, in seconds (10 to 86400). @default 60 */
  maxTimeoutSeconds?: number
}

/**
 * Registers an MCP tool that is paid per call in USDC, over x402's MCP transport
 * (coinbase/x402 `specs/transports-v2/mcp.md`): a call without payment gets a result with
 * `isError` and the `PaymentRequired` (in `structuredContent` and `content[0].text`); the
 * payment comes in the request's `_meta['x402/payment']`; it is verified before the handler
 * runs and settled after it succeeds, and the result carries the settlement in
 * `_meta['x402/payment-response']`. A handler that throws or returns `isError` is not
 * charged. Every payment goes through the paywall's pipeline: recorded in its ledger, a
 * replay refused, a credit token (`_meta['402x/credit']`) drawn down as on REST.
 *
 * @example
 * const server = new McpServer({ name: 'weather', version: '1.0.0' })
 * paidTool(server, 'forecast', { price: 0.01, description: 'Tomorrow in a city', inputSchema: { city: z.string() } },
 *   async ({ city }) => ({ content: [{ type: 'text', text: `Sunny in ${city}` }] }))
 */
export function paidTool<Args extends Schema | undefined = undefined, Out extends Schema = ZodRawShapeCompat>(
  server: McpServer,
  name: string,
  options: PaidToolOptions<Args, Out>,
  handler: ToolCallback<Args>,
): RegisteredTool {
  checkOptions(options as Record<string, unknown>, paidToolRules, `paidTool(server, '${name}')`)
  if (!toolName.test(name)) {
    throw new X402Error('invalid_config', {
      message: `paidTool(server, '${name}'): a tool name is 1 to 128 of A-Z a-z 0-9 _ . - (it names the resource mcp://tool/<name>)`,
    })
  }
  if (typeof server?.registerTool !== 'function') {
    throw new X402Error('invalid_config', {
      message: `paidTool(server, '${name}'): the server must be an McpServer from @modelcontextprotocol/sdk (server/mcp.js)`,
    })
  }
  const paywall = options.paywall ?? serverPaywall(server)
  const { price, description, maxTimeoutSeconds } = options
  const route = paywall.config.resolveRoute(`POST /${name}`, {
    price,
    ...(description !== undefined ? { description } : {}),
    ...(maxTimeoutSeconds !== undefined ? { maxTimeoutSeconds } : {}),
  })
  const withArgs = options.inputSchema !== undefined
  const bazaar = mcpBazaar(name, description, options.inputSchema)
  // biome-ignore lint/suspicious/noExplicitAny: the SDK calls (args, extra) or (extra) by schema.
  const callHandler = handler as (...params: any[]) => CallToolResult | Promise<CallToolResult>

  // biome-ignore lint/suspicious/noExplicitAny: `extra` is the SDK's RequestHandlerExtra.
  const call = async (args: unknown, extra: any): Promise<CallToolResult> => {
    const request = toolRequest(name, extra?._meta)
    if (!request.ok) return refused(request.reason, request.message, 400)
    // A top-up is offered where the server sells credit on this paywall (creditTool).
    const seller = creditToolOf(server, paywall)
    const decision = await paywall.handle(request.head, route, {
      req: { tool: name, arguments: args } satisfies ToolCall,
      creditsServed: seller !== undefined,
    })
    const run = () => (withArgs ? callHandler(args, extra) : callHandler(extra))
    if (decision.type === 'skip') return run()
    if (decision.type === 'respond') return refusalResult(decision.response, bazaar, seller)
    let result: CallToolResult
    try {
      result = await run()
    } catch (error) {
      await decision.abort('the tool threw')
      throw error
    }
    if (result.isError) {
      await decision.abort('the tool returned isError')
      return result
    }
    const paid = await decision.finish(
      new Response(JSON.stringify(result), { status: 200, headers: { 'content-type': 'application/json' } }),
    )
    // Settlement failed or is unknown: the tool's content is not given for a payment not taken.
    if (paid.status >= 400) return refusalResult(paid, bazaar, seller)
    return withReceipt(result, paid)
  }

  const config = {
    ...(options.title !== undefined ? { title: options.title } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(options.inputSchema !== undefined ? { inputSchema: options.inputSchema } : {}),
    ...(options.outputSchema !== undefined ? { outputSchema: options.outputSchema } : {}),
    ...(options.annotations !== undefined ? { annotations: options.annotations } : {}),
    ...(options._meta !== undefined ? { _meta: options._meta } : {}),
  }
  // biome-ignore lint/suspicious/noExplicitAny: the callback's shape follows inputSchema, checked above.
  const callback: any = withArgs
    ? (args: unknown, extra: unknown) => call(args, extra)
    : (extra: unknown) => call(undefined, extra)
  return server.registerTool(name, config, callback)
}
