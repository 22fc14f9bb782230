import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeHeader, PaymentPayloadSchema, type PaymentRequirements } from '@402x/core'
import { parseAbi } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliBin } from '../helpers/devProcess.js'
import { receiptOf, requiredOf, signedPayment } from '../helpers/payments.js'
import { skipOrFail } from '../helpers/services.js'
import { type Stack, startStack } from '../helpers/stack.js'
import { type Child, startChild } from './children.js'

// The Python package (python/) in a real Flask app, charged through a real `402x gateway`
// on a real chain and facilitator: the seed's sample, as written, in
// test/fixtures/flask-app/app.py. Debian's Python, where `.ci/run` installs python3-flask.
const python = '/usr/bin/python3'
const pythonDir = fileURLToPath(new URL('../../python', import.meta.url))
const appPy = fileURLToPath(new URL('../fixtures/flask-app/app.py', import.meta.url))
const docsPage = fileURLToPath(new URL('../../docs/python.md', import.meta.url))

const flaskReady =
  spawnSync(python, ['-c', 'import flask'], { stdio: 'ignore' }).status === 0 ||
  skipOrFail(`${python} cannot import flask (apt-get install python3-flask, as .ci/run does)`)

let stack: Stack
let dir: string
let gateway: Child | undefined
let flask: Child | undefined
let api: string
let buyers = 0

type Buyer = { address: `0x${string}`; privateKey: `0x${string}` }
const nextBuyer = () => stack.chain.buyers[buyers++ % stack.chain.buyers.length] as Buyer

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${api}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
const runs = async () => (await (await fetch(`${api}/__test/runs`)).json()) as Record<string, number>

/** The challenge of an unpaid call, and a payment of it signed by `buyer`. */
async function pay(call: (headers: Record<string, string>) => Promise<Response>, buyer: Buyer) {
  const unpaid = await call({})
  expect(unpaid.status).toBe(402)
  const requirements = requiredOf(unpaid).accepts[0] as PaymentRequirements
  return { requirements, header: signedPayment(buyer, requirements) }
}

const usedOnChain = (from: string, header: string) => {
  const decoded = decodeHeader(header, PaymentPayloadSchema)
  if (!decoded.ok) throw new Error('not a payment')
  const { nonce } = (decoded.value.payload as { authorization: { nonce: `0x${string}` } }).authorization
  return stack.chain.publicClient.readContract({
    address: stack.chain.usdc,
    abi: parseAbi(['function authorizationState(address, bytes32) view returns (bool)']),
    functionName: 'authorizationState',
    args: [from as `0x${string}`, nonce],
  })
}

describe.skipIf(!flaskReady)('Flask through 402x gateway', () => {
  beforeAll(async () => {
    stack = await startStack()
    dir = mkdtempSync(join(tmpdir(), '402x-flask-'))
    const chain = stack.chain
    // A `402x dev` state for this stack: the gateway reads the local USDC's EIP-712 domain
    // from it, and the app finds the gateway in it (gatewayUrl), as apps do under 402x dev.
    const state = {
      pid: process.pid,
      rpcUrl: chain.rpcUrl,
      chainId: chain.chainId,
      network: chain.network,
      asset: chain.usdc,
      eip712: chain.eip712,
      facilitatorUrl: stack.facilitatorUrl,
      payTo: chain.payTo.address,
      buyerPrivateKey: chain.buyers[0]?.privateKey,
    }
    writeFileSync(join(dir, 'dev.json'), JSON.stringify(state))
    const env: NodeJS.ProcessEnv = { ...process.env, X402_STATE_DIR: dir }
    delete env.X402_GATEWAY_URL
    delete env.X402_GATEWAY_TOKEN
    gateway = await startChild(process.execPath, [cliBin, 'gateway', '--port', '0', '--json'], {
      name: '402x gateway',
      cwd: dir,
      ready: /^\{.*"url"/,
      env: {
        ...env,
        X402_PAY_TO: chain.payTo.address,
        X402_NETWORK: chain.network,
        X402_ASSET: chain.usdc,
        X402_FACILITATOR_URL: stack.facilitatorUrl,
        X402_DATABASE_URL: join(dir, 'ledger.db'),
      },
    })
    const { url } = JSON.parse(gateway.ready) as { url: string }
    writeFileSync(join(dir, 'dev.json'), JSON.stringify({ ...state, gatewayUrl: url }))
    flask = await startChild(python, [appPy], {
      name: 'the Flask app',
      ready: /^listening http/,
      env: { ...env, PYTHONPATH: pythonDir, PYTHONDONTWRITEBYTECODE: '1' },
    })
    api = flask.ready.replace('listening ', '').trim()
  }, 120_000)

  afterAll(async () => {
    await flask?.stop()
    await gateway?.stop()
    await stack?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it("passes the package's own tests, and the docs' Python samples parse", () => {
    const unit = spawnSync(python, ['-m', 'unittest', 'discover', '-s', 'tests', '-t', 'tests'], {
      cwd: pythonDir,
      encoding: 'utf8',
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      timeout: 60_000,
    })
    expect(unit.status, unit.stderr).toBe(0)
    const samples = [...readFileSync(docsPage, 'utf8').matchAll(/^```python\n([\s\S]*?)^```/gm)].map((m) => m[1])
    expect(samples.length).toBeGreaterThan(2)
    for (const sample of samples) {
      const parsed = spawnSync(python, ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: sample })
      expect(parsed.status, `${sample}\n${parsed.stderr}`).toBe(0)
    }
  })

  it('answers an unpaid call with the 402 and does not run the view', async () => {
    const unpaid = await post('/api/analyze', { text: 'hello world' })
    expect(unpaid.status).toBe(402)
    const required = requiredOf(unpaid)
    expect(required.accepts[0]).toMatchObject({ amount: '50000', payTo: stack.chain.payTo.address })
    expect(required.resource?.url).toBe(`${api}/api/analyze`)
    expect((await runs()).analyze).toBeUndefined()
  })

  it('serves a paid call with the receipt, moves the USDC, and refuses the same payment again', async () => {
    const buyer = nextBuyer()
    const analyze = (headers: Record<string, string>) => post('/api/analyze', { text: 'hello paid world' }, headers)
    const { header } = await pay(analyze, buyer)
    const [buyerBefore, sellerBefore] = await Promise.all([
      stack.chain.balanceOf(buyer.address),
      stack.chain.balanceOf(stack.chain.payTo.address),
    ])
    const paid = await analyze({ 'payment-signature': header })
    expect(paid.status).toBe(200)
    expect(paid.headers.get('payment-response')).toBeTruthy()
    expect(await paid.json()).toEqual({ words: 3, consumer: buyer.address })
    expect(await stack.chain.balanceOf(buyer.address)).toBe(buyerBefore - 50_000n)
    expect(await stack.chain.balanceOf(stack.chain.payTo.address)).toBe(sellerBefore + 50_000n)
    const replay = await analyze({ 'payment-signature': header })
    expect(replay.status).toBeGreaterThanOrEqual(400)
    expect(await runs()).toMatchObject({ analyze: 1 })
    expect(await stack.chain.balanceOf(buyer.address)).toBe(buyerBefore - 50_000n)
  })

  it("reads the seed's X-402-Payment header", async () => {
    const buyer = nextBuyer()
    const analyze = (headers: Record<string, string>) => post('/api/analyze', { text: 'seed' }, headers)
    const { header } = await pay(analyze, buyer)
    const paid = await analyze({ 'X-402-Payment': header })
    expect(paid.status).toBe(200)
    expect(paid.headers.get('payment-response')).toBeTruthy()
  })

  it('answers a view that raises with 500 and charges nothing', async () => {
    const buyer = nextBuyer()
    const fail = (headers: Record<string, string>) => fetch(`${api}/api/fail`, { headers })
    const { header } = await pay(fail, buyer)
    const before = await stack.chain.balanceOf(buyer.address)
    const failed = await fail({ 'payment-signature': header })
    expect(failed.status).toBe(500)
    expect(failed.headers.get('payment-response')).toBeNull()
    expect(await runs()).toMatchObject({ fail: 1 })
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
    expect(await usedOnChain(buyer.address, header)).toBe(false)
  })

  describe('credit bought through the app', () => {
    let token: string
    let buyer: Buyer

    beforeAll(async () => {
      buyer = nextBuyer()
      const buy = (headers: Record<string, string>) =>
        fetch(`${api}/__402x/credits?amount=1`, { method: 'POST', headers })
      const { header } = await pay(buy, buyer)
      const bought = await buy({ 'payment-signature': header })
      expect(bought.status).toBe(200)
      token = ((await bought.json()) as { token: string }).token
      expect(token).toMatch(/^x402c_/)
    })

    it('serves a fixed price from credit, with no chain work', async () => {
      const before = await stack.chain.balanceOf(buyer.address)
      const served = await post('/api/analyze', { text: 'on credit' }, { authorization: `Bearer ${token}` })
      expect(served.status).toBe(200)
      expect(receiptOf(served)).toMatchObject({ captured: '50000', balance: '950000' })
      expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
    })

    it('charges a metered view the units it reports', async () => {
      const completed = await post('/api/complete', { tokens: 12 }, { authorization: `Bearer ${token}` })
      expect(completed.status).toBe(200)
      expect(await completed.json()).toEqual({ text: 'done', tokens: 12 })
      // 12 tokens at $0.0001: 1200 atomic units of the $0.01 reserved.
      expect(receiptOf(completed)).toMatchObject({ reserved: '10000', captured: '1200', returned: '8800' })
    })

    // Without units, finish sends the view's JSON body, and the gateway counts its tokens.
    it('charges a metered view what the gateway counts in its body', async () => {
      // {"text": "x" × 40}: 40 bytes of text, at 4 bytes a token, 10 tokens.
      const echoed = await fetch(`${api}/api/echo?text=${'x'.repeat(40)}`, {
        headers: { authorization: `Bearer ${token}` },
      })
      expect(echoed.status, await echoed.clone().text()).toBe(200)
      expect(receiptOf(echoed)).toMatchObject({ captured: '1000' })
    })

    it('prices a route of the WSGI middleware', async () => {
      const unpaid = await fetch(`${api}/api/items/3`)
      expect(unpaid.status).toBe(402)
      expect(requiredOf(unpaid).accepts[0]?.amount).toBe('20000')
      const served = await fetch(`${api}/api/items/3`, { headers: { authorization: `Bearer ${token}` } })
      expect(served.status).toBe(200)
      expect(receiptOf(served)).toMatchObject({ captured: '20000' })
      expect(await runs()).toMatchObject({ item: 1 })
    })
  })

  it('serves a metered view paid on chain: the maximum paid, the rest kept as credit', async () => {
    const buyer = nextBuyer()
    const complete = (headers: Record<string, string>) => post('/api/complete', { tokens: 30 }, headers)
    const { requirements, header } = await pay(complete, buyer)
    expect(requirements.amount).toBe('10000')
    const before = await stack.chain.balanceOf(buyer.address)
    const served = await complete({ 'payment-signature': header })
    expect(served.status).toBe(200)
    expect(receiptOf(served)).toMatchObject({ captured: '3000', returned: '7000' })
    expect(served.headers.get('x-402x-credit-token')).toMatch(/^x402c_/)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10_000n)
  })

  it('answers 503 gateway_unavailable without running the view once the gateway is down', async () => {
    const buyer = nextBuyer()
    const analyze = (headers: Record<string, string>) => post('/api/analyze', { text: 'down' }, headers)
    const { header } = await pay(analyze, buyer)
    const before = await runs()
    await gateway?.stop()
    const down = await analyze({ 'payment-signature': header })
    expect(down.status).toBe(503)
    const body = (await down.json()) as { error: string; message: string }
    expect(body.error).toBe('gateway_unavailable')
    expect(body.message).toMatch(/could not be reached.*402x gateway/)
    expect(await runs()).toEqual(before)
    expect(await usedOnChain(buyer.address, header)).toBe(false)
  })
})
