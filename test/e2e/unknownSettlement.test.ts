import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  createPayment,
  createSiwxExtension,
  decodeHeader,
  encodeHeader,
  PaymentRequiredSchema,
  type PaymentRequirements,
  registerNetwork,
  SettleResponseSchema,
  signSiwx,
} from '@402x/core'
import { type Devchain, startDevchain } from '@402x/devchain'
import { createSqliteLedger, x402Middleware } from '402x-api'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ageLedger } from '../helpers/ageLedger.js'
import { listenerPid } from '../helpers/listenerPid.js'
import { type RpcProxyProcess, startRpcProxyProcess } from '../helpers/rpcProxyProcess.js'
import { close, createServer, listen } from '../helpers/stack.js'

// Issue 15, case 1: a settlement whose send got no answer (a JSON-RPC proxy process that
// swallows eth_sendRawTransaction; anvil stopped or killed as it is sent). The facilitator is
// `402x facilitator` as a real process; the paywall talks to it over HTTP.
const bin = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url))
const price = 10000n

let chain: Devchain
let dir: string
const cleanups: (() => Promise<void> | void)[] = []

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

beforeAll(async () => {
  chain = await startDevchain({ buyers: 6, port: await freePort() })
  registerNetwork(chain.networkEntry)
  dir = mkdtempSync(join(tmpdir(), '402x-unknown-'))
})
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {})
  await chain?.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** `402x facilitator` as a child process on `rpcUrl`, stopped in `afterAll`. */
async function startFacilitatorProcess(rpcUrl: string): Promise<string> {
  const child: ChildProcess = spawn(
    process.execPath,
    [bin, 'facilitator', '--json', '--port', '0', '--network', chain.network, '--rpc-url', rpcUrl],
    {
      env: { ...process.env, X402_FACILITATOR_PRIVATE_KEY: chain.facilitator.privateKey, X402_RPC_TIMEOUT_MS: '1000' },
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: dir,
    },
  )
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let err = ''
  child.stderr?.on('data', (d) => {
    err += d
  })
  const ready = await new Promise<{ url: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`402x facilitator was not ready in 20 s: ${err}`)), 20_000)
    let out = ''
    child.stdout?.on('data', (d) => {
      out += d
      if (!out.includes('\n')) return
      clearTimeout(timer)
      resolve(JSON.parse(out.split('\n')[0] as string))
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`402x facilitator exited with ${code}: ${err}`))
    })
  })
  return ready.url
}

let ledgers = 0
/** A paid Express route on `facilitatorUrl`; `onHandle` runs inside the handler. */
async function paidApp(facilitatorUrl: string, onHandle: () => Promise<void> | void = () => {}) {
  const ledger = join(dir, `ledger-${++ledgers}.db`)
  const middleware = x402Middleware({
    payTo: chain.payTo.address,
    network: chain.network,
    asset: { address: chain.usdc, eip712: chain.eip712 },
    facilitator: facilitatorUrl,
    ledger,
    reconcileIntervalMs: 0,
    price: 0.01,
  })
  const stats = { handled: 0 }
  const app = express()
  app.get('/paid', middleware, async (_req, res) => {
    stats.handled++
    await onHandle()
    res.json({ secret: 42 })
  })
  const server = createServer(app)
  cleanups.push(() => close(server))
  const url = `${await listen(server)}/paid`
  const res = await fetch(url)
  const decoded = decodeHeader(res.headers.get('payment-required') ?? '', PaymentRequiredSchema)
  if (!decoded.ok) throw new Error('no PAYMENT-REQUIRED')
  return { url, ledger, middleware, stats, requirements: decoded.value.accepts[0] as PaymentRequirements }
}

const signIn = (url: string, buyer: { address: string; privateKey: string }) => ({
  'SIGN-IN-WITH-X': encodeHeader(
    signSiwx({
      info: createSiwxExtension({ url, networks: [chain.network] }).info,
      chainId: chain.network,
      privateKey: buyer.privateKey,
      address: buyer.address,
    }),
  ),
})

const paid = (res: Response) => {
  const header = res.headers.get('payment-response')
  const decoded = header ? decodeHeader(header, SettleResponseSchema) : undefined
  return decoded?.ok ? decoded.value : undefined
}

async function expectUnknown(res: Response) {
  expect(res.status).toBe(503)
  expect(res.headers.get('retry-after')).toBeTruthy()
  const text = await res.text()
  expect(text).not.toContain('secret')
  expect(JSON.parse(text)).toMatchObject({
    error: 'settlement_unknown',
    message: expect.stringMatching(/same PAYMENT-SIGNATURE/),
  })
}

/** Retries the same payment, signed in, while it answers 503 (bounded). */
async function retryUntilServed(url: string, payment: unknown, buyer: { address: string; privateKey: string }) {
  for (let i = 0; i < 30; i++) {
    const res = await fetch(url, {
      headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment as never), ...signIn(url, buyer) },
      signal: AbortSignal.timeout(30_000),
    })
    if (res.status !== 503) return res
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  throw new Error('still 503 after 30 retries')
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 30_000) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('a settlement whose send got no answer', () => {
  let proxy: RpcProxyProcess
  let facilitatorUrl: string
  beforeAll(async () => {
    proxy = await startRpcProxyProcess(chain.rpcUrl)
    cleanups.push(() => proxy.stop())
    facilitatorUrl = await startFacilitatorProcess(proxy.url)
  })

  it('is answered 503 settlement_unknown, not served; the payer retry is served once and charged once', async () => {
    const app = await paidApp(facilitatorUrl)
    const buyer = chain.buyers[0]!
    const payment = createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements: app.requirements })
    const before = await chain.balanceOf(chain.payTo.address)
    await proxy.swallow(true)
    try {
      await expectUnknown(await fetch(app.url, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment) } }))
      expect((await proxy.stats()).swallowed).toBeGreaterThan(0)
    } finally {
      await proxy.swallow(false)
    }
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before)
    const ledger = createSqliteLedger({ path: app.ledger })
    cleanups.push(() => ledger.close())
    const [row] = await ledger.list()
    expect(row).toMatchObject({ state: 'pending', reason: 'settlement_unknown' })

    const retry = await retryUntilServed(app.url, payment, buyer)
    expect(retry.status).toBe(200)
    expect(await retry.json()).toEqual({ secret: 42 })
    expect(paid(retry)).toMatchObject({ success: true })
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before + price)

    // A replay is refused, signed in or not; nothing more is charged.
    const replay = await fetch(app.url, {
      headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment), ...signIn(app.url, buyer) },
    })
    expect(replay.status).toBe(402)
    expect(await replay.text()).not.toContain('secret')
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before + price)
    const rows = await ledger.list()
    expect(rows.filter((r) => r.state === 'settled' || r.state === 'reconciled')).toHaveLength(1)
  })

  it('gets the seller paid if the payer never retries: re-sent in the background, reconciled undelivered', async () => {
    const app = await paidApp(facilitatorUrl)
    const buyer = chain.buyers[1]!
    const payment = createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements: app.requirements })
    const before = await chain.balanceOf(chain.payTo.address)
    await proxy.swallow(true)
    try {
      await expectUnknown(await fetch(app.url, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment) } }))
    } finally {
      await proxy.swallow(false)
    }
    // Nobody retries: the facilitator sends the held transaction again by itself.
    await waitFor(async () => (await chain.balanceOf(chain.payTo.address)) === before + price, 'the re-send to land')
    ageLedger(app.ledger)
    expect(await app.middleware.paywall.reconcile()).toBe(1)
    const ledger = createSqliteLedger({ path: app.ledger })
    cleanups.push(() => ledger.close())
    const [row] = await ledger.list()
    expect(row).toMatchObject({ state: 'reconciled', undelivered: true })
    // The payer's signed-in retry is served once, with no new charge.
    const retry = await retryUntilServed(app.url, payment, buyer)
    expect(retry.status).toBe(200)
    expect(await retry.json()).toEqual({ secret: 42 })
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before + price)
  })
})

/** The pid of the anvil listening on `port` (not the devchain's watchdog, which runs it). */
const anvilPid = (port: number) => listenerPid(port)

describe('anvil stopped as a settlement is sent', () => {
  // The stop is sent to the process holding anvil's listening socket (not its watchdog, whose
  // command line looks the same), and the proxy forwards the send only once the kernel shows
  // anvil stopped: the case is the one named, every run.
  it('settles exactly once; nothing is served before the node knows the settlement; the ledger matches the chain', async () => {
    const proxy = await startRpcProxyProcess(chain.rpcUrl)
    cleanups.push(() => proxy.stop())
    const facilitatorUrl = await startFacilitatorProcess(proxy.url)
    const pid = anvilPid(Number(new URL(chain.rpcUrl).port))
    const resume = () => void process.kill(pid, 'SIGCONT')
    cleanups.push(resume)
    const app = await paidApp(facilitatorUrl)
    const buyer = chain.buyers[2]!
    const payment = createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements: app.requirements })
    const before = await chain.balanceOf(chain.payTo.address)
    let first: Response
    await proxy.signalOnSend(pid, 'SIGSTOP')
    try {
      // Bounded well above the facilitator's own waits (1 s per call here).
      first = await fetch(app.url, {
        headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment) },
        signal: AbortSignal.timeout(60_000),
      })
    } finally {
      resume()
    }
    // The node was stopped (the kernel showed it so) before the send reached its socket.
    expect(await proxy.stats()).toMatchObject({ signalled: 1, stopSeen: 1 })
    // The node had the send in its socket, unread: not known to have it, so not served.
    await expectUnknown(first)

    const retry = await retryUntilServed(app.url, payment, buyer)
    expect(retry.status).toBe(200)
    expect(await retry.json()).toEqual({ secret: 42 })
    const settle = paid(retry)
    expect(settle).toMatchObject({ success: true })
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before + price)
    const receipt = await chain.publicClient.getTransactionReceipt({ hash: settle!.transaction as `0x${string}` })
    expect(receipt.status).toBe('success')
    const ledger = createSqliteLedger({ path: app.ledger })
    cleanups.push(() => ledger.close())
    const done = (await ledger.list()).filter((r) => r.state === 'settled' || r.state === 'reconciled')
    expect(done).toHaveLength(1)
    expect(done[0]?.transaction?.toLowerCase()).toBe(settle!.transaction.toLowerCase())
  }, 120_000)
})

describe('anvil killed mid-batch', () => {
  it('answers every paid call of the batch with a retryable 503, none served free', async () => {
    // Its own chain: this one dies. Its state cannot come back (anvil keeps it in memory), so
    // what is asserted is what each caller got and what the ledger keeps for a retry.
    const own = await startDevchain({ buyers: 4, port: await freePort() })
    cleanups.push(() => own.stop())
    const saved = chain
    chain = own
    try {
      const proxy = await startRpcProxyProcess(own.rpcUrl)
      cleanups.push(() => proxy.stop())
      const facilitatorUrl = await startFacilitatorProcess(proxy.url)
      const app = await paidApp(facilitatorUrl)
      await proxy.signalOnSend(anvilPid(Number(new URL(own.rpcUrl).port)), 'SIGKILL')
      const answers = await Promise.all(
        own.buyers.map(async (buyer) => {
          const payment = createPayment({
            privateKey: buyer.privateKey,
            from: buyer.address,
            requirements: app.requirements,
          })
          const res = await fetch(app.url, {
            headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment) },
            signal: AbortSignal.timeout(30_000),
          })
          return { status: res.status, body: await res.text() }
        }),
      )
      // The first send killed the node before it read it, and the rest queue behind it: no
      // settlement of the batch was ever known to the node, so none is served.
      for (const answer of answers) {
        expect(answer.status).toBe(503)
        expect(answer.body).not.toContain('secret')
        expect(JSON.parse(answer.body).error).toMatch(/^(settlement_unknown|chain_unavailable|payment_in_flight)$/)
      }
      const ledger = createSqliteLedger({ path: app.ledger })
      cleanups.push(() => ledger.close())
      for (const row of await ledger.list()) {
        // Kept for the payer's retry (pending), or closed with nothing charged.
        expect(['pending', 'failed', 'released']).toContain(row.state)
        if (row.state === 'pending') expect(['settlement_unknown', 'settle_error']).toContain(row.reason)
      }
    } finally {
      chain = saved
    }
  })
})
