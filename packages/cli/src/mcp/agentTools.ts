import { X402Error } from '@402x/core'
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { type Budget, BudgetExceededError, type Receipt, type X402Client, X402HttpError } from '402x-client'
import { z } from 'zod'
import { describePayError } from '../payError.js'
import { callPaidTool, type ToolPayer } from './callPaidTool.js'
import { discoverApi } from './discoverApi.js'
import { spendingOf } from './spending.js'

/** What the agent's tools share: one paying client, so one budget across every session. */
export type AgentContext = {
  client: X402Client
  /** The client's budget as it applies (defaults filled in), for the spending report. */
  budget: Budget
  /** Payments of earlier runs (the spending file), counted and reported with this run's. */
  earlier?: Receipt[]
  /** Pays MCP tools (`call_paid_tool`) from the same wallet and budget. */
  payer: ToolPayer
  /** Payments for MCP tools in this run (the client's receipts hold the HTTP ones). */
  toolReceipts: Receipt[]
}

/** The largest body returned to the agent, in characters; the rest is cut, and said so. */
const maxText = 100_000

const result = (data: Record<string, unknown>, isError = false): CallToolResult => ({
  ...(isError ? { isError: true } : {}),
  structuredContent: data,
  content: [{ type: 'text', text: JSON.stringify(data, null, 2) }],
})

/** Where each budget limit is set for `402x mcp`: its flag (or the variable). */
const flags: Record<BudgetExceededError['limit'], string> = {
  maxPerRequest: '--max-per-request (X402_MAX_PER_REQUEST)',
  maxTotal: '--max-total (X402_MAX_TOTAL)',
  maxPerHost: '--max-per-host (X402_MAX_PER_HOST)',
  maxPerDay: '--max-per-day (X402_MAX_PER_DAY)',
  allowedHosts: '--allow-host (X402_ALLOWED_HOSTS)',
  allowedPayTo: 'the budget’s allowedPayTo',
}

/** A failed call as the agent sees it: a reason code, what happened, and what can be done. */
function failure(error: unknown, url: string): CallToolResult {
  if (error instanceof BudgetExceededError) {
    return result(
      {
        error: 'budget_exceeded',
        limit: error.limit,
        message: `${error.message.replace(/ Raise \w+ in the budget to allow it\.$/, '')} Nothing was paid. The person running 402x mcp can raise it with ${flags[error.limit]}.`,
      },
      true,
    )
  }
  if (error instanceof X402HttpError) {
    return result(
      {
        error: 'http_error',
        status: error.response.status,
        data: clip(error.response.data),
        message: describePayError(error, url),
        ...(error.response.receipt ? { paid: error.response.receipt.price } : {}),
      },
      true,
    )
  }
  const code = error instanceof X402Error ? error.code : 'request_failed'
  return result({ error: code, message: describePayError(error, url) }, true)
}

const clip = (data: unknown) => {
  const text = typeof data === 'string' ? data : JSON.stringify(data)
  if (text === undefined || text.length <= maxText) return data
  return `${text.slice(0, maxText)}… (cut at ${maxText} of ${text.length} characters)`
}

/**
 * Registers the agent's tools on an MCP server: `discover_api` (what a seller sells, and for
 * how much), `call_api` (call one of its routes, paying within the budget) and `get_spending`
 * (what was spent, against the budget).
 *
 * @example
 * registerAgentTools(new McpServer({ name: '402x', version: '0.1.0' }), { client, budget })
 */
export function registerAgentTools(server: McpServer, context: AgentContext): void {
  const { client, budget } = context
  const receipts = () =>
    [...(context.earlier ?? []), ...client.receipts, ...context.toolReceipts].sort(
      (a, b) => a.at.getTime() - b.at.getTime(),
    )
  server.registerTool(
    'discover_api',
    {
      title: 'Discover a paid API',
      description:
        "Lists what an HTTP API sells over x402, and for how much: reads its /.well-known/x402 manifest and its OpenAPI document (free, nothing is paid). Give any URL on the API; each route comes with its method, URL and price in US dollars per call ('dynamic': the price depends on the request, 'free': no payment).",
      inputSchema: { url: z.string().url().describe('The API, e.g. https://api.example.com') },
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    async ({ url }) => {
      try {
        return result({ ...(await discoverApi(url)) })
      } catch (error) {
        return result({ error: 'discovery_failed', message: (error as Error).message }, true)
      }
    },
  )

  server.registerTool(
    'call_api',
    {
      title: 'Call a paid API',
      description:
        'Calls an HTTP API route and pays its x402 price in USDC from the wallet, within the budget (per request, per host, per day and in total, set by the person running 402x mcp). Returns the status, the body, and the payment made (price, transaction). A call over budget is refused before anything is paid.',
      inputSchema: {
        url: z.string().url().describe('The full URL, path parameters filled in'),
        method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
        body: z.unknown().optional().describe('A JSON body, for POST, PUT and PATCH'),
        headers: z.record(z.string(), z.string()).optional(),
      },
      annotations: { openWorldHint: true },
    },
    async ({ url, method, body, headers }) => {
      try {
        const config = headers ? { headers } : {}
        const response =
          method === 'GET' || method === 'DELETE'
            ? await client[method === 'GET' ? 'get' : 'delete'](url, config)
            : await client[method.toLowerCase() as 'post' | 'put' | 'patch'](url, body, config)
        const receipt = response.receipt
        return result({
          status: response.status,
          data: clip(response.data),
          paid: receipt
            ? {
                price: receipt.price,
                payTo: receipt.payTo,
                network: receipt.network,
                transaction: receipt.transaction,
                status: receipt.status,
              }
            : null,
          ...(response.credit ? { credit: jsonSafe(response.credit) } : {}),
          spent: spendingOf(receipts(), budget).spent,
        })
      } catch (error) {
        return failure(error, url)
      }
    },
  )

  server.registerTool(
    'call_paid_tool',
    {
      title: 'Call a paid MCP tool',
      description:
        "Calls a tool of another MCP server (streamable HTTP) and, when it asks for an x402 payment (a payment-required result), pays it in USDC within the same budget and calls again. Returns the tool's result and the payment made.",
      inputSchema: {
        url: z.string().url().describe("The MCP server's streamable HTTP endpoint, e.g. https://tools.example.com/mcp"),
        tool: z.string().min(1).describe("The tool's name"),
        arguments: z.record(z.string(), z.unknown()).optional(),
        headers: z.record(z.string(), z.string()).optional(),
      },
      annotations: { openWorldHint: true },
    },
    async ({ url, tool, arguments: args, headers }) => {
      try {
        const call = await callPaidTool(context.payer, {
          url,
          tool,
          ...(args ? { arguments: args } : {}),
          ...(headers ? { headers } : {}),
        })
        const r = call.receipt
        const out = {
          isError: call.result.isError === true,
          content: call.result.content,
          ...(call.result.structuredContent ? { structuredContent: call.result.structuredContent } : {}),
          paid: r ? { price: r.price, payTo: r.payTo, network: r.network, transaction: r.transaction } : null,
          ...(call.refused ? { error: call.refused.reason, message: call.refused.message } : {}),
          spent: spendingOf(receipts(), budget).spent,
        }
        return result(out, out.isError)
      } catch (error) {
        return failure(error, url)
      }
    },
  )

  server.registerTool(
    'get_spending',
    {
      title: 'See spending',
      description:
        'What this agent has paid so far (in all, today, per host, and the last payments with their transactions), and what its budget still allows, in US dollars.',
      annotations: { readOnlyHint: true },
    },
    async () => result({ ...spendingOf(receipts(), budget) }),
  )
}

const jsonSafe = (value: unknown) =>
  JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)))
