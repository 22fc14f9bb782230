import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { createPaywall, paidTool } from '402x-api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { cliBin, type DevProcess, startDevProcess } from '../helpers/devProcess.js'
import { serveSessions } from './serveMcp.js'

// `402x mcp` as an agent runs it: the built CLI, spoken to by the MCP SDK's own Client over
// stdio and over streamable HTTP, paying a real `402x dev` (its chain, facilitator, demo API).
let dev: DevProcess

// The wallet comes from the running 402x dev in the same folder, not from this shell.
const env = () => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('X402_')) out[k] = v
  return out
}

beforeAll(async () => {
  dev = await startDevProcess()
})

afterAll(async () => {
  await dev?.stop()
})

const call = async (client: Client, name: string, args: Record<string, unknown> = {}) =>
  (await client.callTool({ name, arguments: args })) as CallToolResult
// biome-ignore lint/suspicious/noExplicitAny: the tools' JSON, read field by field below.
const data = (result: CallToolResult) => result.structuredContent as Record<string, any>

/** `402x mcp` over stdio, as an agent's MCP configuration starts it. */
const stdio = (args: string[]) => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cliBin, 'mcp', ...args],
    cwd: dev.dir,
    env: env(),
    stderr: 'pipe',
  })
  const out = { transport, client: new Client({ name: 'test-agent', version: '1.0.0' }), stderr: '' }
  transport.stderr?.on('data', (d) => {
    out.stderr += d
  })
  return out
}

describe('402x mcp over stdio', () => {
  it('discovers the demo API, pays within the budget, refuses over it, and reports the spending', async () => {
    const { transport, client, ...run } = stdio([
      '--max-per-request',
      '0.015',
      '--max-per-host',
      '0.0115',
      '--spending-file',
      join(dev.dir, 'stdio.jsonl'),
    ])
    let pid: number | null = null
    try {
      await client.connect(transport)
      pid = transport.pid
      const { tools } = await client.listTools()
      expect(tools.map((t) => t.name).sort()).toEqual(['call_api', 'call_paid_tool', 'discover_api', 'get_spending'])

      const found = data(await call(client, 'discover_api', { url: dev.ready.apiUrl }))
      expect(found.title).toBe('402x demo API')
      const routes = found.routes as { method: string; url: string; price: string }[]
      expect(routes).toContainEqual(
        expect.objectContaining({ method: 'POST', url: `${dev.ready.apiUrl}/api/translate`, price: '0.02' }),
      )
      expect(routes).toContainEqual(
        expect.objectContaining({ method: 'GET', url: `${dev.ready.apiUrl}/api/market/:symbol`, price: '0.001' }),
      )
      expect(routes.find((r) => r.url.endsWith('/api/image'))?.price).toBe('dynamic')

      const generated = await call(client, 'call_api', {
        url: `${dev.ready.apiUrl}/api/generate`,
        method: 'POST',
        body: { prompt: 'a haiku' },
      })
      expect(generated.isError, JSON.stringify(generated)).toBeFalsy()
      expect(data(generated)).toMatchObject({ status: 200, paid: { price: '0.01', network: 'eip155:31337' } })
      expect(data(generated).paid.transaction).toMatch(/^0x[0-9a-f]{64}$/)

      // Over --max-per-request: refused before anything is signed.
      const translate = await call(client, 'call_api', {
        url: `${dev.ready.apiUrl}/api/translate`,
        method: 'POST',
        body: { text: 'Hello', targetLang: 'es' },
      })
      expect(translate.isError).toBe(true)
      expect(data(translate)).toMatchObject({ error: 'budget_exceeded', limit: 'maxPerRequest' })
      expect(data(translate).message).toContain('--max-per-request')

      const market = await call(client, 'call_api', { url: `${dev.ready.apiUrl}/api/market/ETH` })
      expect(data(market)).toMatchObject({ status: 200, paid: { price: '0.001' }, data: { symbol: 'ETH' } })
      // 0.011 spent at this host: one more 0.001 is over --max-per-host 0.0115.
      const again = await call(client, 'call_api', { url: `${dev.ready.apiUrl}/api/market/BTC` })
      expect(data(again)).toMatchObject({ error: 'budget_exceeded', limit: 'maxPerHost' })

      const spending = data(await call(client, 'get_spending'))
      const host = new URL(dev.ready.apiUrl).host
      expect(spending).toMatchObject({
        spent: '0.011',
        spentToday: '0.011',
        byHost: { [host]: '0.011' },
        budget: { maxPerRequest: '0.015', maxPerHost: '0.0115', maxTotal: '10' },
        remaining: { total: '9.989' },
      })
      expect(spending.payments.map((p: { price: string }) => p.price)).toEqual(['0.01', '0.001'])
      expect(spending.payments[0].transaction).toBe(data(generated).paid.transaction)
    } finally {
      await client.close()
    }
    expect(run.stderr).not.toContain('Error')
    // Closing stdin ends the server: nothing is left running.
    expect(pid).toBeTypeOf('number')
    expect(() => process.kill(pid as number, 0)).toThrow()
  })

  it('keeps the spending in --spending-file: a restart counts the earlier payments against the budget', async () => {
    const file = join(dev.dir, 'stdio.jsonl')
    const lines = readFileSync(file, 'utf8').trim().split('\n')
    expect(lines.map((l) => JSON.parse(l).price)).toEqual(['0.01', '0.001'])
    const { transport, client } = stdio(['--max-total', '0.0115', '--spending-file', file])
    try {
      await client.connect(transport)
      expect(data(await call(client, 'get_spending'))).toMatchObject({ spent: '0.011', remaining: { total: '0.0005' } })
      const over = await call(client, 'call_api', { url: `${dev.ready.apiUrl}/api/market/ETH` })
      expect(data(over)).toMatchObject({ error: 'budget_exceeded', limit: 'maxTotal' })
    } finally {
      await client.close()
    }
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(2)
  })

  it('pays a paidTool of another MCP server (x402 MCP transport) within the same budget', async () => {
    const paywall = createPaywall({
      routes: {},
      payTo: dev.ready.payTo,
      network: dev.ready.network,
      asset: { address: dev.ready.asset, eip712: { name: 'USD Coin', version: '2' } },
      facilitator: dev.ready.facilitatorUrl,
      ledger: join(dev.dir, 'tools-ledger.db'),
      reconcileIntervalMs: 0,
    })
    const runs = { forecast: 0, premium: 0 }
    // A session per agent connection, every one on the same paywall.
    const served = await serveSessions(() => {
      const seller = new McpServer({ name: 'weather', version: '1.0.0' })
      paidTool(seller, 'forecast', { price: 0.01, inputSchema: { city: z.string() }, paywall }, ({ city }) => {
        runs.forecast++
        return { content: [{ type: 'text', text: `Sunny in ${city}` }] }
      })
      paidTool(seller, 'premium', { price: 0.02, paywall }, () => {
        runs.premium++
        return { content: [{ type: 'text', text: 'premium' }] }
      })
      return seller
    })
    const { transport, client } = stdio(['--max-per-request', '0.015', '--spending-file', join(dev.dir, 'tools.jsonl')])
    try {
      await client.connect(transport)
      const paid = await call(client, 'call_paid_tool', {
        url: served.url,
        tool: 'forecast',
        arguments: { city: 'Paris' },
      })
      expect(paid.isError, JSON.stringify(paid)).toBeFalsy()
      expect(data(paid)).toMatchObject({ content: [{ type: 'text', text: 'Sunny in Paris' }], paid: { price: '0.01' } })
      const settled = await paywall.config.ledger.listByState(['settled'])
      expect(settled.map((r) => [r.resource, r.transaction])).toEqual([
        ['mcp://tool/forecast', data(paid).paid.transaction],
      ])

      const over = await call(client, 'call_paid_tool', { url: served.url, tool: 'premium' })
      expect(data(over)).toMatchObject({ error: 'budget_exceeded', limit: 'maxPerRequest' })
      expect(runs).toEqual({ forecast: 1, premium: 0 })

      const spending = data(await call(client, 'get_spending'))
      expect(spending).toMatchObject({ spent: '0.01' })
      expect(spending.payments).toEqual([expect.objectContaining({ method: 'tools/call forecast', price: '0.01' })])
    } finally {
      await client.close()
      await served.close()
      await paywall.close()
    }
  })

  it('refuses to start on a spending file it cannot read', async () => {
    const file = join(dev.dir, 'broken.jsonl')
    writeFileSync(file, '{"not":"a receipt"}\n')
    const child = spawn(process.execPath, [cliBin, 'mcp', '--spending-file', file], {
      cwd: dev.dir,
      env: env(),
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    try {
      let stderr = ''
      child.stderr?.on('data', (d) => {
        stderr += d
      })
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
      expect(code).toBe(1)
      expect(stderr).toContain('broken.jsonl:1')
    } finally {
      await stopChild(child)
    }
  })
})

/** Starts `402x mcp --http 0 …` in the dev folder; resolves with its URL once it listens. */
async function startHttp(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [cliBin, 'mcp', '--http', '0', ...args], {
    cwd: dev.dir,
    env: env(),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (d) => {
    stderr += d
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`402x mcp --http did not start in 20 s: ${stderr}`)), 20_000)
    let out = ''
    child.stdout?.on('data', (d) => {
      out += d
      if (out.includes('\n')) {
        clearTimeout(timer)
        resolve(JSON.parse(out.split('\n')[0] as string).url)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`402x mcp exited with ${code}: ${stderr}`))
    })
  })
  return { child, url }
}

const stopChild = async (child: ChildProcess | undefined) => {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}

describe('402x mcp over streamable HTTP', () => {
  it('serves the same tools at /mcp behind its token; sessions share one budget', async () => {
    let child: ChildProcess | undefined
    const clients: Client[] = []
    try {
      const started = await startHttp([
        '--token',
        's3cret',
        '--max-total',
        '0.0015',
        '--spending-file',
        join(dev.dir, 'http.jsonl'),
      ])
      child = started.child
      const url = new URL(started.url)
      expect(url.pathname).toBe('/mcp')

      const refused = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      expect(refused.status).toBe(401)
      expect(await refused.json()).toMatchObject({ error: 'unauthorized' })

      const connect = async () => {
        const client = new Client({ name: 'test-agent', version: '1.0.0' })
        clients.push(client)
        await client.connect(
          new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: 'Bearer s3cret' } } }),
        )
        return client
      }
      const first = await connect()
      const paid = data(await call(first, 'call_api', { url: `${dev.ready.apiUrl}/api/market/ETH` }))
      expect(paid).toMatchObject({ status: 200, paid: { price: '0.001' } })

      // Another session: the same wallet and budget, 0.001 of 0.0015 already spent.
      const second = await connect()
      const over = await call(second, 'call_api', { url: `${dev.ready.apiUrl}/api/market/BTC` })
      expect(data(over)).toMatchObject({ error: 'budget_exceeded', limit: 'maxTotal' })
      expect(data(await call(second, 'get_spending'))).toMatchObject({ spent: '0.001', remaining: { total: '0.0005' } })
    } finally {
      for (const client of clients) await client.close().catch(() => {})
      await stopChild(child)
    }
  })

  it('refuses a non-loopback host without a token, before listening', async () => {
    const child = spawn(process.execPath, [cliBin, 'mcp', '--http', '0', '--host', '0.0.0.0'], {
      cwd: dev.dir,
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    try {
      let stderr = ''
      child.stderr?.on('data', (d) => {
        stderr += d
      })
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
      expect(code).toBe(1)
      expect(stderr).toContain('--token')
    } finally {
      await stopChild(child)
    }
  })
})
