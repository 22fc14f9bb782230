import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { PaymentRequired } from '@402x/core'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { expect } from 'vitest'
import { listen } from '../helpers/stack.js'

/**
 * Serves one McpServer over the SDK's streamable HTTP transport (one session) on a real
 * HTTP server, and connects the SDK's own Client to it.
 */
export async function serveOverHttp(mcp: McpServer): Promise<{ client: Client; url: string; close(): Promise<void> }> {
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID() })
  await mcp.connect(transport)
  const server: Server = createServer((req, res) => {
    void transport.handleRequest(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end()
    })
  })
  const url = `${await listen(server)}/mcp`
  const client = new Client({ name: 'test-agent', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(url)))
  return {
    client,
    url,
    async close() {
      await client.close().catch(() => {})
      await mcp.close().catch(() => {})
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * Serves MCP over streamable HTTP with a session per client, each on a server `make` builds
 * (one McpServer serves one transport), as a seller with many agents does.
 */
export async function serveSessions(make: () => McpServer): Promise<{ url: string; close(): Promise<void> }> {
  const sessions = new Map<string, StreamableHTTPServerTransport>()
  const server: Server = createServer((req, res) => {
    const id = req.headers['mcp-session-id']
    const known = typeof id === 'string' ? sessions.get(id) : undefined
    const handle = async () => {
      if (known) return known.handleRequest(req, res)
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => void sessions.set(sid, transport),
      })
      await make().connect(transport)
      await transport.handleRequest(req, res)
    }
    void handle().catch(() => {
      if (!res.headersSent) res.writeHead(500).end()
    })
  })
  const url = `${await listen(server)}/mcp`
  return {
    url,
    async close() {
      for (const transport of sessions.values()) await transport.close().catch(() => {})
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** `tools/call` of `name` with these arguments and `_meta`, as the SDK client sends it. */
export const callTool = (
  client: Client,
  name: string,
  args?: Record<string, unknown>,
  meta?: Record<string, unknown>,
) =>
  client.callTool({
    name,
    ...(args ? { arguments: args } : {}),
    ...(meta ? { _meta: meta } : {}),
  }) as Promise<CallToolResult>

/** The x402 challenge of a payment-required result, checked as the MCP transport spec has it. */
export const challengeOf = (result: CallToolResult) => {
  expect(result.isError).toBe(true)
  const required = result.structuredContent as unknown as PaymentRequired
  // The spec: the same PaymentRequired as JSON in content[0].text.
  const first = result.content[0]
  expect(first?.type).toBe('text')
  expect(JSON.parse((first as { text: string }).text)).toEqual(required)
  return required
}
