import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { stateDir, X402Error } from '@402x/core'
import { type Budget, clientOptionsFromEnv, createX402Client, type Receipt } from '402x-client'
import { spendingFile } from '../mcp/spendingFile.js'

export const mcpUsage = `  402x mcp [--http <port>] [--host 127.0.0.1] [--token <secret>] [--max-per-request 0.10] [--max-per-host 1]
           [--max-per-day 5] [--max-total 10] [--allow-host api.example.com] [--spending-file .402x/mcp-spending.jsonl]
      An MCP server for AI agents (stdio; streamable HTTP at /mcp with --http): tools to discover
      paid APIs (OpenAPI, /.well-known/x402), call them and paid MCP tools paying within the
      budget, and see the spending. Wallet from X402_PRIVATE_KEY, else the buyer of a running 402x dev; the budget
      flags override X402_MAX_PER_REQUEST, X402_MAX_PER_HOST, X402_MAX_PER_DAY, X402_MAX_TOTAL and
      X402_ALLOWED_HOSTS; the payments are kept in --spending-file, so the budget holds across
      restarts. --token (or X402_MCP_TOKEN): the bearer token HTTP callers must send.`

const limits = {
  'max-per-request': 'maxPerRequest',
  'max-per-host': 'maxPerHost',
  'max-per-day': 'maxPerDay',
  'max-total': 'maxTotal',
} as const

/**
 * `402x mcp`: runs the agent's MCP server over stdio (the default) or streamable HTTP
 * (`--http <port>`) until stopped. The MCP SDK is loaded only here.
 */
export async function mcpCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      http: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      token: { type: 'string' },
      'max-per-request': { type: 'string' },
      'max-per-host': { type: 'string' },
      'max-per-day': { type: 'string' },
      'max-total': { type: 'string' },
      'allow-host': { type: 'string', multiple: true },
      'spending-file': { type: 'string' },
    },
  })
  const base = clientOptionsFromEnv()
  // The limits as they apply (the client's defaults written out), so that get_spending shows them.
  const budget: Budget = { maxPerRequest: '0.10', maxTotal: '10', ...base.budget }
  for (const [flag, name] of Object.entries(limits) as [keyof typeof limits, (typeof limits)[keyof typeof limits]][]) {
    const value = values[flag]
    if (value === undefined) continue
    if (!/^\$?\d+(\.\d+)?$/.test(value)) {
      throw new X402Error('invalid_request', {
        message: `--${flag} is "${value}": give dollars, e.g. --${flag} 0.05`,
      })
    }
    budget[name] = value.replace(/^\$/, '')
  }
  if (values['allow-host']?.length) budget.allowedHosts = values['allow-host']
  const file = spendingFile(values['spending-file'] ?? join(stateDir(), 'mcp-spending.jsonl'))
  const client = createX402Client({ ...base, budget, onReceipt: (receipt) => file.record(receipt) })
  // Earlier runs' payments count against --max-per-day and --max-total (and are reported).
  const earlier = file.load(client.fetch.tracker)
  const toolReceipts: Receipt[] = []
  const payer = {
    privateKey: typeof base.wallet === 'string' ? base.wallet : base.wallet.privateKey,
    tracker: client.fetch.tracker,
    allowedAssets: base.allowedAssets ?? [],
    onReceipt: (receipt: Receipt) => {
      file.record(receipt)
      toolReceipts.push(receipt)
    },
  }
  const context = { client, budget, earlier, payer, toolReceipts }

  let sdk: typeof import('../mcp/startMcp.js')
  try {
    sdk = await import('../mcp/startMcp.js')
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') {
      throw new X402Error('invalid_config', {
        message: `402x mcp needs @modelcontextprotocol/sdk: npm install @modelcontextprotocol/sdk (${(error as Error).message})`,
      })
    }
    throw error
  }

  if (values.http === undefined) {
    await sdk.serveStdio(context)
    return 0
  }
  const port = Number(values.http)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new X402Error('invalid_request', {
      message: `--http is "${values.http}": give a port from 0 to 65535, e.g. --http 4030`,
    })
  }
  const token = values.token ?? (process.env.X402_MCP_TOKEN || undefined)
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(values.host)
  if (!loopback && token === undefined) {
    throw new X402Error('invalid_config', {
      message: `--host ${values.host} lets other machines spend this wallet: pass --token <secret> (or set X402_MCP_TOKEN), which callers send as Authorization: Bearer`,
    })
  }
  const served = await sdk.serveHttp(context, { port, host: values.host, token })
  // One line a machine can read, as `402x dev --json` prints; the server runs until stopped.
  process.stdout.write(`${JSON.stringify({ url: served.url })}\n`)
  process.stderr.write(`402x mcp: streamable HTTP at ${served.url}\n`)
  await new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await served.close()
  return 0
}
