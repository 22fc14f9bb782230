import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { createPayment, decodeHeader, encodeHeader, PaymentRequiredSchema, type PaymentRequirements } from '@402x/core'
import { createFacilitator, createFacilitatorServer } from '@402x/facilitator'
import { x402Middleware } from '402x-api'
import express from 'express'
import { describe, expect, it } from 'vitest'
import { startDevProcess } from '../helpers/devProcess.js'
import { startRpcProxy } from '../helpers/rpcProxy.js'
import { close, listen, startStack } from '../helpers/stack.js'

/** The processes whose parent is `pid`. */
const childrenOf = (pid: number) =>
  execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0)

describe('402x dev as a whole', () => {
  it('says loudly when a port was busy, and where the service runs instead', async () => {
    const busy = createServer()
    const port = Number(new URL(await listen(busy)).port)
    const dev = await startDevProcess({ api: port })
    try {
      expect(dev.ready.apiUrl).not.toBe(`http://127.0.0.1:${port}`)
      const got = new URL(dev.ready.apiUrl).port
      expect(dev.stderr()).toContain(`port ${port} was busy: the demo API runs on port ${got} instead`)
      expect((dev.ready as unknown as { movedPorts: unknown }).movedPorts).toEqual([
        { what: 'demo API', asked: port, got: Number(got) },
      ])
    } finally {
      await dev.stop()
      await close(busy)
    }
  })

  it('answers a payment header over 16 KiB with payload_too_large, not a bare 431', async () => {
    const dev = await startDevProcess()
    try {
      const res = await fetch(`${dev.ready.apiUrl}/api/market/ETH`, {
        headers: { 'PAYMENT-SIGNATURE': 'A'.repeat(20_000) },
      })
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ reason: 'payload_too_large' })
    } finally {
      await dev.stop()
    }
  })

  it('serves the decision service at its API URL, for apps in other languages', async () => {
    const dev = await startDevProcess()
    try {
      const res = await fetch(`${dev.ready.apiUrl}/__402x/decide`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ method: 'GET', url: 'http://127.0.0.1:5000/api/x', route: { price: 0.05 } }),
      })
      expect(res.status).toBe(200)
      const decision = (await res.json()) as { action: string; status: number; headers: Record<string, string> }
      expect(decision).toMatchObject({ action: 'respond', status: 402 })
      const required = decodeHeader(decision.headers['payment-required'] ?? '', PaymentRequiredSchema)
      expect(required.ok && required.value.accepts[0]?.amount).toBe('50000')
    } finally {
      await dev.stop()
    }
  })

  it('stops with a message, exit code 1, when its chain dies (anvil killed)', async () => {
    const dev = await startDevProcess()
    try {
      // 402x dev → the anvil watchdog (node) → anvil.
      const anvil = childrenOf(dev.child.pid!).flatMap(childrenOf)
      expect(anvil.length).toBe(1)
      const exited = new Promise<number | null>((resolve) => dev.child.once('exit', (code) => resolve(code)))
      process.kill(anvil[0]!, 'SIGKILL')
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 15_000))])
      expect(code).toBe(1)
      expect(dev.stderr()).toContain(`the local chain (anvil at ${dev.ready.rpcUrl}) stopped by itself`)
      expect(existsSync(join(dev.dir, '.402x', 'dev.json'))).toBe(false)
      await expect(fetch(dev.ready.apiUrl)).rejects.toThrow()
    } finally {
      await dev.stop()
    }
  })

  it('a paywall whose HTTP facilitator cannot reach the chain answers chain_unavailable', async () => {
    const stack = await startStack()
    const proxy = await startRpcProxy(stack.chain.rpcUrl)
    const servers: Server[] = []
    try {
      const facilitatorServer = createFacilitatorServer({
        facilitator: createFacilitator({
          chains: [{ network: stack.chain.network, rpcUrl: proxy.url }],
          privateKeys: [stack.chain.facilitator.privateKey],
        }),
      })
      servers.push(facilitatorServer)
      const facilitator = await listen(facilitatorServer)
      const app = express()
      app.get('/paid', x402Middleware({ ...stack.paywall(), facilitator, price: 0.01 }), (_req, res) => {
        res.json({ secret: 42 })
      })
      const server = createServer(app)
      servers.push(server)
      const url = `${await listen(server)}/paid`
      const first = await fetch(url)
      const decoded = decodeHeader(first.headers.get('payment-required') ?? '', PaymentRequiredSchema)
      if (!decoded.ok) throw new Error('no PAYMENT-REQUIRED')
      const buyer = stack.chain.buyers[0]!
      const requirements = decoded.value.accepts[0] as PaymentRequirements
      const before = await stack.chain.balanceOf(buyer.address)
      await proxy.down()
      const res = await fetch(url, {
        headers: {
          'PAYMENT-SIGNATURE': encodeHeader(
            createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements }),
          ),
        },
      })
      expect(res.status).toBe(503)
      const body = (await res.json()) as { error: string; message: string }
      expect(body.error).toBe('chain_unavailable')
      expect(body.message).toContain('cannot reach its chain')
      await proxy.up()
      expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
    } finally {
      for (const s of servers) await close(s)
      await proxy.stop()
      await stack.stop()
    }
  })
})
