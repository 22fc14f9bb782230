import { createServer, type IncomingMessage, request, type Server } from 'node:http'
import type { X402WebSocket } from '402x-api'
import { x402Credits } from '402x-api'
import express from 'express'
import { afterAll, beforeAll } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

/** A devchain and facilitator for this test file (started before its tests, stopped after), and its funded buyers. */
export function chainForTests() {
  let stack: Stack | undefined
  beforeAll(async () => {
    stack = await startStack()
  }, 120_000)
  afterAll(async () => {
    await stack?.stop()
  })
  const get = () => {
    if (!stack) throw new Error('the stack is not started')
    return stack
  }
  return {
    get stack() {
      return get()
    },
    buyer: (i: number) => get().chain.buyers[i] as { address: `0x${string}`; privateKey: `0x${string}` },
  }
}

/** A WebSocket paywall's credit: operator grants, and the sum of an account's captures. */
export function creditTools(paid: X402WebSocket) {
  const credits = paid.paywall.credits as NonNullable<X402WebSocket['paywall']['credits']>
  const service = (paid.paywall.config.credits as NonNullable<X402WebSocket['paywall']['config']['credits']>).service
  return {
    credits,
    service,
    grant: async (amount: number) => (await credits.grant({ amount, ref: `grant-${Math.random()}` })).token as string,
    /** A capture takes the reservation off hold: the charge goes to revenue, the rest back to the caller. */
    captured: async (account: string) =>
      (await service.entries(account, 500)).filter((e) => e.kind === 'capture').reduce((sum, e) => sum - e.amount, 0n),
  }
}

export type Opened = {
  kind: 'open'
  ws: WebSocket
  headers: IncomingMessage['headers']
  protocol: string
  /** What it received from the start. */
  got: Recorded
}
export type Refused = { kind: 'refused'; status: number; headers: IncomingMessage['headers']; body: string }

/** Opens a `ws` client; a refused upgrade gives its status, headers and body. Bounded by 10 s. */
export function connect(
  url: string,
  options: { headers?: Record<string, string>; protocols?: string[] } = {},
): Promise<Opened | Refused> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers ?? {} })
    const got = record(ws)
    const timer = setTimeout(() => {
      ws.terminate()
      reject(new Error(`no answer from ${url} in 10 s`))
    }, 10_000)
    let headers: IncomingMessage['headers'] = {}
    ws.on('upgrade', (res) => {
      headers = res.headers
    })
    ws.on('open', () => {
      clearTimeout(timer)
      resolve({ kind: 'open', ws, headers, protocol: ws.protocol, got })
    })
    ws.on('unexpected-response', (req, res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => {
        body += chunk
      })
      res.on('end', () => {
        clearTimeout(timer)
        req.destroy()
        resolve({ kind: 'refused', status: res.statusCode ?? 0, headers: res.headers, body })
      })
    })
    ws.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
}

/**
 * Sends a raw upgrade request (Upgrade, Connection, version 13, and `headers`, which give the
 * key) and resolves with the status of the answer: 101 when it was accepted.
 */
export function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', ...headers },
    })
    req.on('response', (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('upgrade', (_res, socket) => {
      socket.destroy()
      resolve(101)
    })
    req.on('error', reject)
    req.end()
  })
}

export type Recorded = ReturnType<typeof record>

/** Every message a client gets (text, JSON parsed when it is), and how it closed. */
export function record(ws: WebSocket) {
  const messages: unknown[] = []
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  )
  ws.on('message', (data) => {
    const text = data.toString()
    try {
      messages.push(JSON.parse(text))
    } catch {
      messages.push(text)
    }
  })
  const app = () =>
    messages.filter((m) => !(m && typeof m === 'object' && 'type' in m && String(m.type).startsWith('x402.')))
  const notices = (type: string) =>
    messages.filter((m) => m && typeof m === 'object' && (m as { type?: string }).type === type)
  return { messages, closed, app, notices }
}

/** Waits for `check` to hold, at most `ms`. */
export async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 10))
  }
}

/**
 * An HTTP server that sells credit (`/__402x/credits`, x402Credits on the same ledger) and
 * hands its upgrades to `paid` (pre-handshake 402s), with a `ws` server behind.
 */
export async function serveWs(
  paid: X402WebSocket,
  credits: Record<string, unknown>,
  onConnection: (ws: WebSocket, req: IncomingMessage) => void,
) {
  const app = express()
  const seller = x402Credits(credits)
  app.use(seller)
  const server: Server = createServer(app)
  const wss = new WebSocketServer({ noServer: true, handleProtocols: paid.handleProtocols })
  wss.on('connection', onConnection)
  paid.handleUpgrade(server, wss)
  const url = await listen(server)
  return {
    http: url,
    ws: url.replace('http', 'ws'),
    wss,
    seller,
    async stop() {
      for (const client of wss.clients) client.terminate()
      wss.close()
      await close(server)
      await seller.paywall.close()
      await paid.close()
    },
  }
}
