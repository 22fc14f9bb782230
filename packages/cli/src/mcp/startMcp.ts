import { randomUUID, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { type AgentContext, registerAgentTools } from './agentTools.js'

const serverInfo = { name: '402x', version: '0.1.0' }

const agentServer = (context: AgentContext) => {
  const server = new McpServer(serverInfo, {
    instructions:
      'Tools to use paid HTTP APIs (x402, USDC): discover_api lists what an API sells and its prices, call_api calls a route and pays within the budget, call_paid_tool calls a paid tool of another MCP server, get_spending shows what was spent.',
  })
  registerAgentTools(server, context)
  return server
}

/** `402x mcp` over stdio: one agent, until its input ends. */
export async function serveStdio(context: AgentContext): Promise<void> {
  const server = agentServer(context)
  const transport = new StdioServerTransport()
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve()
    process.stdin.once('end', () => resolve())
  })
  await server.connect(transport)
  await closed
  await server.close()
}

export type HttpOptions = {
  port: number
  host: string
  /** The bearer token callers must send; required off loopback. */
  token: string | undefined
}

/**
 * `402x mcp --http <port>`: the streamable HTTP transport at `/mcp`, one MCP server per
 * session, all sharing one client (so one budget). Resolves once listening, with its URL and
 * a `close`.
 */
export async function serveHttp(
  context: AgentContext,
  options: HttpOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  const sessions = new Map<string, StreamableHTTPServerTransport>()
  const loopback = options.host === '127.0.0.1' || options.host === 'localhost' || options.host === '::1'
  const http: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path !== '/mcp') return void res.writeHead(404, { 'content-type': 'application/json' }).end(notFound)
    if (options.token !== undefined && !authorized(req, options.token)) {
      return void res
        .writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' })
        .end(JSON.stringify({ error: 'unauthorized', message: 'send Authorization: Bearer <the --token of 402x mcp>' }))
    }
    void route(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end()
    })
  })

  async function route(req: IncomingMessage, res: import('node:http').ServerResponse) {
    const id = req.headers['mcp-session-id']
    const known = typeof id === 'string' ? sessions.get(id) : undefined
    if (known) return known.handleRequest(req, res)
    if (typeof id === 'string') {
      res.writeHead(404, { 'content-type': 'application/json' })
      return void res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          error: { code: -32001, message: 'unknown session: initialize a new one' },
          id: null,
        }),
      )
    }
    const port = (http.address() as AddressInfo).port
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => void sessions.set(sid, transport),
      // A page in a browser must not reach a loopback wallet by DNS rebinding.
      ...(loopback
        ? {
            enableDnsRebindingProtection: true,
            allowedHosts: [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`],
          }
        : {}),
    })
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId)
    }
    await agentServer(context).connect(transport)
    await transport.handleRequest(req, res)
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(options.port, options.host, () => resolve())
  })
  const { port } = http.address() as AddressInfo
  const host = options.host.includes(':') ? `[${options.host}]` : options.host
  return {
    url: `http://${host}:${port}/mcp`,
    async close() {
      for (const transport of sessions.values()) await transport.close().catch(() => {})
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}

const notFound = JSON.stringify({ error: 'not_found', message: 'the MCP endpoint is POST /mcp' })

function authorized(req: IncomingMessage, token: string): boolean {
  const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? ''
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}
