import { createServer as createHttpServer, type Server } from 'node:http'
import type { Socket } from 'node:net'
import {
  createSiwxExtension,
  decodeHeader,
  encodeHeader,
  PaymentPayloadSchema,
  type PaymentRequirements,
  type SiwxExtension,
  signSiwx,
} from '@402x/core'
import { fiatTokenAbi } from '@402x/devchain'
import type { FacilitatorLike } from '@402x/facilitator'
import { x402Middleware } from '402x-api'
import express from 'express'
import { createWalletClient, http, parseSignature } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ageLedger } from '../helpers/ageLedger.js'
import { receiptOf, requiredOf, signedPayment } from '../helpers/payments.js'
import { close, createServer, listen, type Stack, startStack } from '../helpers/stack.js'

// Money paid for credit (a top-up, or a metered request paid by one payment of its maximum)
// is never lost and never counted twice: whatever went wrong between the chain and the
// caller, the payer's retry of the same payment, with a sign-in, gets it back as credit.
let stack: Stack
const servers: Server[] = []
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

beforeAll(async () => {
  stack = await startStack()
}, 120_000)
afterAll(async () => {
  for (const s of servers) await close(s)
  await stack?.stop()
})

async function serve(app: express.Express | ((req: never, res: never) => void)) {
  const server = createServer(app as never)
  servers.push(server)
  return listen(server)
}
const buyer = (i: number) => stack.chain.buyers[i] as { address: `0x${string}`; privateKey: `0x${string}` }
const paymentHeader = (i: number, requirements: PaymentRequirements) => signedPayment(buyer(i), requirements)
/** A SIGN-IN-WITH-X proof by buyer `i`: on the 402's challenge when given, else on a fresh one (as 402x-client does). */
const signIn = (url: string, i: number, challenge?: SiwxExtension) =>
  encodeHeader(
    signSiwx({
      info: (challenge ?? createSiwxExtension({ url, networks: [stack.chain.network] })).info,
      chainId: stack.chain.network,
      privateKey: buyer(i).privateKey,
      address: buyer(i).address,
    }),
  )
const reasonOf = async (response: Response) => ((await response.json()) as { reason?: string }).reason
const tokenOf = (response: Response) => response.headers.get('x-402x-credit-token')
type TopUpAnswer = {
  token?: string
  credited: string
  recovered?: boolean
  balance: { available: string }
}

describe('metered request paid with one payment of the max (no token yet)', () => {
  it('client gone before the response: the max stays as credit, and the signed-in retry of the same payment gets a token and is served from it', async () => {
    const options = stack.paywall()
    const app = express()
    const metered = x402Middleware({ ...options, pricePerToken: 0.0001, max: 0.01 })
    let handlerRuns = 0
    app.post('/api/slow', metered, async (_req, res) => {
      handlerRuns++
      await sleep(1500)
      res.json({ tokens: 3 })
    })
    const url = await serve(app)
    const requirements = requiredOf(await fetch(`${url}/api/slow`, { method: 'POST' }))
      .accepts[0] as PaymentRequirements
    expect(requirements.amount).toBe('10000')
    const header = paymentHeader(0, requirements)
    const before = await stack.chain.balanceOf(buyer(0).address)

    const abandoned = new Promise<Record<string, unknown>>((resolve) => metered.paywall.events.once('receipt', resolve))
    const abort = new AbortController()
    metered.paywall.events.once('toppedUp', () => setTimeout(() => abort.abort(), 200))
    await expect(
      fetch(`${url}/api/slow`, { method: 'POST', headers: { 'PAYMENT-SIGNATURE': header }, signal: abort.signal }),
    ).rejects.toThrow()
    // Paid $0.01 on chain; nothing captured; the whole $0.01 is credit of an account keyed by the payment.
    const first = await abandoned
    expect(await stack.chain.balanceOf(buyer(0).address)).toBe(before - 10_000n)
    expect(first).toMatchObject({ captured: 0n, returned: 10_000n, balance: 10_000n, refund: 'credit' })
    expect(String(first.account)).toMatch(/^acct_/)
    await sleep(1600) // the abandoned handler finishes; what it writes goes nowhere

    // The authorization is public on chain: without the payer's sign-in the retry gets nothing.
    const anonymous = await fetch(`${url}/api/slow`, { method: 'POST', headers: { 'PAYMENT-SIGNATURE': header } })
    expect(anonymous.status).toBe(402)
    expect(tokenOf(anonymous)).toBeNull()
    const challenge = requiredOf(anonymous).extensions?.['sign-in-with-x'] as SiwxExtension | undefined
    expect(challenge?.info.nonce).toBeTruthy()
    expect(await reasonOf(anonymous)).toBe('sign_in_required')
    expect(handlerRuns).toBe(1)

    const served = new Promise<Record<string, unknown>>((resolve) => metered.paywall.events.once('receipt', resolve))
    const retry = await fetch(`${url}/api/slow`, {
      method: 'POST',
      headers: { 'PAYMENT-SIGNATURE': header, 'SIGN-IN-WITH-X': signIn(url, 0, challenge) },
    })
    expect(retry.status).toBe(200)
    expect(await retry.json()).toEqual({ tokens: 3 })
    expect(handlerRuns).toBe(2)
    const token = tokenOf(retry)
    expect(token).toMatch(/\S/)
    // A new reservation of the same account's credit: 3 tokens captured, the rest stays credit.
    expect(receiptOf(retry)).toMatchObject({
      reserved: '10000',
      captured: '300',
      returned: '9700',
      balance: '9700',
      refund: 'credit',
    })
    expect((await served).account).toBe(first.account)
    expect(await metered.paywall.credits?.balance(token as string)).toEqual({ available: '0.0097', reserved: '0' })
    // Charged on chain once.
    expect(await stack.chain.balanceOf(buyer(0).address)).toBe(before - 10_000n)
  })
})

/** The real facilitator, except that `settle` reports a fault after the settlement landed. */
const faultAfterSettle = (): FacilitatorLike => ({
  supported: () => stack.facilitator.supported(),
  verify: (p, r) => stack.facilitator.verify(p, r),
  settle: async (p, r) => {
    const settled = await stack.facilitator.settle(p, r)
    if (!settled.success) return settled
    throw new Error('socket hang up (after the settlement landed)')
  },
  reconcile: (q) => stack.facilitator.reconcile(q),
})

describe('a settlement fault after the payment landed, then the retry of the same payment', () => {
  let url: string
  let paywall: ReturnType<typeof x402Middleware>
  let handlerRuns = 0
  beforeAll(async () => {
    const app = express()
    paywall = x402Middleware({
      ...stack.paywall(),
      facilitator: faultAfterSettle(),
      routes: { 'POST /api/m': { pricePerToken: 0.0001, max: 0.01 } },
    })
    app.use(paywall)
    app.post('/api/m', (_req, res) => {
      handlerRuns++
      res.json({ tokens: 3 })
    })
    url = await serve(app)
  })

  it('top-up: the signed-in retry is credited once and gets a token; a second retry gets another token for the same balance', async () => {
    const path = `${url}/__402x/credits?amount=1`
    const requirements = requiredOf(await fetch(path, { method: 'POST' })).accepts[0] as PaymentRequirements
    const header = paymentHeader(1, requirements)
    const before = await stack.chain.balanceOf(buyer(1).address)
    let toppedUp = 0
    paywall.paywall.events.on('toppedUp', () => toppedUp++)
    const first = await fetch(path, { method: 'POST', headers: { 'PAYMENT-SIGNATURE': header } })
    expect(first.status).toBe(503)
    expect(((await first.json()) as { error: string }).error).toBe('settlement_unknown')
    expect(await stack.chain.balanceOf(buyer(1).address)).toBe(before - 1_000_000n)
    expect(toppedUp).toBe(0)

    const anonymous = await fetch(path, { method: 'POST', headers: { 'PAYMENT-SIGNATURE': header } })
    expect(anonymous.status).toBe(402)
    expect(await reasonOf(anonymous)).toBe('sign_in_required')
    expect(tokenOf(anonymous)).toBeNull()
    expect(toppedUp).toBe(0)

    const tokens: string[] = []
    for (let attempt = 0; attempt < 2; attempt++) {
      const retry = await fetch(path, {
        method: 'POST',
        headers: { 'PAYMENT-SIGNATURE': header, 'SIGN-IN-WITH-X': signIn(path, 1) },
      })
      expect(retry.status).toBe(200)
      const body = (await retry.json()) as TopUpAnswer
      expect(body).toMatchObject({ credited: '1', recovered: true, balance: { available: '1' } })
      expect(tokenOf(retry)).toBe(body.token)
      tokens.push(body.token as string)
    }
    expect(tokens[0]).not.toBe(tokens[1])
    // A proof grants once, and only for the resource it names.
    const proof = signIn(path, 1)
    const once = await fetch(path, {
      method: 'POST',
      headers: { 'PAYMENT-SIGNATURE': header, 'SIGN-IN-WITH-X': proof },
    })
    expect(once.status).toBe(200)
    const again = await fetch(path, {
      method: 'POST',
      headers: { 'PAYMENT-SIGNATURE': header, 'SIGN-IN-WITH-X': proof },
    })
    expect(again.status).toBe(402)
    expect(await reasonOf(again)).toBe('sign_in_required')
    const elsewhere = await fetch(path, {
      method: 'POST',
      headers: { 'PAYMENT-SIGNATURE': header, 'SIGN-IN-WITH-X': signIn(`${url}/api/other`, 1) },
    })
    expect(elsewhere.status).toBe(402)
    // Credited once, and reported once: the retries add nothing.
    expect(toppedUp).toBe(1)
    // Both tokens open the same account, which holds the $1 once.
    for (const token of tokens) {
      expect(await paywall.paywall.credits?.balance(token)).toEqual({ available: '1', reserved: '0' })
    }
    const shown = (await (
      await fetch(`${url}/__402x/credits`, { headers: { authorization: `Bearer ${tokens[1]}` } })
    ).json()) as { entries: { amount: string; direction: string }[] }
    expect(shown.entries).toHaveLength(1)
    expect(shown.entries[0]).toMatchObject({ amount: '1', direction: 'in' })
    expect(await stack.chain.balanceOf(buyer(1).address)).toBe(before - 1_000_000n)
  })

  it('metered: the signed-in retry is served metered from the credit, with a receipt and a token', async () => {
    const requirements = requiredOf(await fetch(`${url}/api/m`, { method: 'POST' })).accepts[0] as PaymentRequirements
    const header = paymentHeader(2, requirements)
    const before = await stack.chain.balanceOf(buyer(2).address)
    handlerRuns = 0
    const first = await fetch(`${url}/api/m`, { method: 'POST', headers: { 'PAYMENT-SIGNATURE': header } })
    expect(first.status).toBe(503)
    expect(((await first.json()) as { error: string }).error).toBe('settlement_unknown')
    expect(handlerRuns).toBe(0)

    const retry = await fetch(`${url}/api/m`, {
      method: 'POST',
      headers: { 'PAYMENT-SIGNATURE': header, 'SIGN-IN-WITH-X': signIn(`${url}/api/m`, 2) },
    })
    expect(retry.status).toBe(200)
    expect(await retry.json()).toEqual({ tokens: 3 })
    expect(handlerRuns).toBe(1)
    expect(receiptOf(retry)).toMatchObject({
      reserved: '10000',
      captured: '300',
      returned: '9700',
      balance: '9700',
      refund: 'credit',
    })
    const token = tokenOf(retry)
    expect(token).toMatch(/\S/)
    expect(await paywall.paywall.credits?.balance(token as string)).toEqual({ available: '0.0097', reserved: '0' })
    expect(await stack.chain.balanceOf(buyer(2).address)).toBe(before - 10_000n)
  })
})

/** A JSON-RPC proxy in front of anvil that fails eth_getTransactionReceipt (everything else passes). */
async function receiptlessRpc(target: string) {
  const server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks).toString()
    const msg = JSON.parse(body)
    if (!Array.isArray(msg) && msg.method === 'eth_getTransactionReceipt') {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: -32000, message: 'receipt index offline' } }))
      return
    }
    const up = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    res.setHeader('content-type', 'application/json')
    res.end(await up.text())
  })
  servers.push(server)
  return listen(server)
}

describe("refund: 'onchain'", () => {
  it('a refund sent whose receipt could not be read is reported as unconfirmed and not credited: refunded once', async () => {
    const rpcUrl = await receiptlessRpc(stack.chain.rpcUrl)
    const app = express()
    const onchain = x402Middleware({
      ...stack.paywall(),
      pricePerToken: 0.0001,
      max: 0.01,
      credits: { refund: 'onchain', refundKey: stack.chain.payTo.privateKey, rpcUrl },
    })
    app.post('/api/complete', onchain, (_req, res) => res.json({ tokens: 3 }))
    const url = await serve(app)
    const requirements = requiredOf(await fetch(`${url}/api/complete`, { method: 'POST' }))
      .accepts[0] as PaymentRequirements
    const before = await stack.chain.balanceOf(buyer(3).address)
    const paid = await fetch(`${url}/api/complete`, {
      method: 'POST',
      headers: { 'PAYMENT-SIGNATURE': paymentHeader(3, requirements) },
    })
    expect(paid.status).toBe(200)
    const receipt = receiptOf(paid)
    expect(receipt).toMatchObject({
      reserved: '10000',
      captured: '300',
      returned: '9700',
      balance: '0',
      refund: 'onchain',
      reason: 'refund_unconfirmed',
    })
    expect(receipt.transaction).toMatch(/^0x[0-9a-f]{64}$/)
    // The unused $0.0097 is not credit as well …
    const token = tokenOf(paid)
    expect(token).toMatch(/\S/)
    expect(await onchain.paywall.credits?.balance(token as string)).toEqual({ available: '0', reserved: '0' })
    // … and the transfer did land, once: the buyer paid $0.0003 in all.
    expect(await stack.chain.balanceOf(buyer(3).address)).toBe(before - 300n)
  }, 90_000)
})

/** The payer voids its own authorization on chain (EIP-3009 `cancelAuthorization`): it can never be used now. */
async function cancelAuthorization(i: number, header: string) {
  const decoded = decodeHeader(header, PaymentPayloadSchema)
  if (!decoded.ok) throw new Error('not a payment header')
  const { nonce } = (decoded.value.payload as { authorization: { nonce: `0x${string}` } }).authorization
  const account = privateKeyToAccount(buyer(i).privateKey)
  const { v, r, s } = parseSignature(
    await account.signTypedData({
      domain: { ...stack.chain.eip712, chainId: stack.chain.chainId, verifyingContract: stack.chain.usdc },
      types: {
        CancelAuthorization: [
          { name: 'authorizer', type: 'address' },
          { name: 'nonce', type: 'bytes32' },
        ],
      },
      primaryType: 'CancelAuthorization',
      message: { authorizer: account.address, nonce },
    }),
  )
  const wallet = createWalletClient({ account, chain: foundry, transport: http(stack.chain.rpcUrl) })
  const hash = await wallet.writeContract({
    address: stack.chain.usdc,
    abi: fiatTokenAbi,
    functionName: 'cancelAuthorization',
    args: [account.address, nonce, Number(v), r, s],
  })
  const receipt = await stack.chain.publicClient.waitForTransactionReceipt({
    hash,
    pollingInterval: 20,
    timeout: 10_000,
  })
  expect(receipt.status).toBe('success')
}

describe('top-up settled as settlement_pending', () => {
  it('is not credit while in flight, and once the payment is reconciled as failed the retry is refused and nothing is ever credited', async () => {
    let settles = 0
    // The real facilitator, except that the settlement is reported sent and never lands.
    const pending: FacilitatorLike = {
      supported: () => stack.facilitator.supported(),
      verify: (p, r) => stack.facilitator.verify(p, r),
      settle: async (_p, r) => {
        settles++
        return {
          success: false,
          errorReason: 'settlement_pending',
          transaction: `0x${'ab'.repeat(32)}`,
          network: r.network,
          payer: buyer(4).address,
        }
      },
      reconcile: (q) => stack.facilitator.reconcile(q),
    }
    const options = stack.paywall()
    const app = express()
    const paywall = x402Middleware({ ...options, facilitator: pending, routes: { 'GET /api/data': 0.01 } })
    let toppedUp = 0
    paywall.paywall.events.on('toppedUp', () => toppedUp++)
    app.use(paywall)
    app.get('/api/data', (_req, res) => res.json({ data: 'paid' }))
    const url = await serve(app)
    // The payer presents an account: a top-up credited by mistake would show in it.
    const { token } = await paywall.paywall.credits!.grant({ amount: 0.01, ref: 'pending-topup' })
    const bearer = { authorization: `Bearer ${token}` }
    const path = `${url}/__402x/credits?amount=5`
    const requirements = requiredOf(await fetch(path, { method: 'POST' })).accepts[0] as PaymentRequirements
    const header = paymentHeader(4, requirements)
    const before = await stack.chain.balanceOf(buyer(4).address)
    const unchanged = async () => {
      expect(await paywall.paywall.credits?.balance(token as string)).toEqual({ available: '0.01', reserved: '0' })
      expect(toppedUp).toBe(0)
    }

    const bought = await fetch(path, { method: 'POST', headers: { ...bearer, 'PAYMENT-SIGNATURE': header } })
    expect(bought.status).toBe(503)
    expect(((await bought.json()) as { error: string }).error).toBe('payment_in_flight')
    expect(settles).toBe(1)
    await unchanged()

    // Still unconfirmed: the signed-in retry waits too.
    const early = await fetch(path, {
      method: 'POST',
      headers: { ...bearer, 'PAYMENT-SIGNATURE': header, 'SIGN-IN-WITH-X': signIn(path, 4) },
    })
    expect(early.status).toBe(503)
    expect(((await early.json()) as { error: string }).error).toBe('payment_in_flight')
    await unchanged()

    // The payment fails for good (the payer voids it), and reconciliation finds out.
    await cancelAuthorization(4, header)
    ageLedger(options.ledger)
    expect(await paywall.paywall.reconcile()).toBe(1)
    const late = await fetch(path, {
      method: 'POST',
      headers: { ...bearer, 'PAYMENT-SIGNATURE': header, 'SIGN-IN-WITH-X': signIn(path, 4) },
    })
    expect(late.status).toBe(402)
    expect(await reasonOf(late)).toBe('invalid_exact_evm_nonce_already_used')
    expect(tokenOf(late)).toBeNull()
    await unchanged()
    expect(settles).toBe(1)
    expect(await stack.chain.balanceOf(buyer(4).address)).toBe(before)
  })
})

describe('an extra accepted asset with other decimals on a metered route', () => {
  it('is not offered for metered credit, and a payment in it anyway is refused without crediting anything', async () => {
    let verifies = 0
    let settles = 0
    // Accepts anything: the refusal must come from the paywall, not the facilitator.
    const lenient: FacilitatorLike = {
      supported: () => stack.facilitator.supported(),
      verify: async (p) => {
        verifies++
        return { isValid: true, payer: (p.payload as { authorization: { from: string } }).authorization.from }
      },
      settle: async (_p, r) => {
        settles++
        return { success: true, transaction: `0x${'cd'.repeat(32)}`, network: r.network, payer: buyer(5).address }
      },
      reconcile: async () => ({ state: 'pending' }),
    }
    const app = express()
    const dai = '0x6B175474E89094C44Da98b954EedeAC495271d0F'
    const paywall = x402Middleware({
      ...stack.paywall(),
      facilitator: lenient,
      accepts: [
        {
          network: stack.chain.network,
          asset: { address: dai, eip712: { name: 'Dai Stablecoin', version: '1' }, decimals: 18 },
          payTo: stack.chain.payTo.address,
        },
      ],
      routes: { 'POST /api/m': { pricePerToken: 0.0001, max: 0.01 }, 'GET /api/data': 0.01 },
    })
    let toppedUp = 0
    paywall.paywall.events.on('toppedUp', () => toppedUp++)
    app.use(paywall)
    app.post('/api/m', (_req, res) => res.json({ tokens: 3 }))
    app.get('/api/data', (_req, res) => res.json({ data: 'paid' }))
    const url = await serve(app)
    // A fixed-price route offers the option …
    const fixed = requiredOf(await fetch(`${url}/api/data`)).accepts as PaymentRequirements[]
    expect(fixed.map((a) => a.asset)).toEqual([stack.chain.usdc, dai])
    // … a metered one (whose payment becomes credit in USDC units) does not.
    const accepts = requiredOf(await fetch(`${url}/api/m`, { method: 'POST' })).accepts as PaymentRequirements[]
    expect(accepts.map((a) => a.asset)).toEqual([stack.chain.usdc])
    const usdc = accepts[0] as PaymentRequirements
    expect(usdc.amount).toBe('10000')

    // Paid in DAI anyway ($0.01 in 18 decimals), from an account that has credit.
    const inDai = { ...usdc, asset: dai, amount: '10000000000000000', extra: { name: 'Dai Stablecoin', version: '1' } }
    const { token } = await paywall.paywall.credits!.grant({ amount: 0.01, ref: 'dai-payer' })
    const paid = await fetch(`${url}/api/m`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'PAYMENT-SIGNATURE': paymentHeader(5, inDai) },
    })
    expect(paid.status).toBe(402)
    expect(await reasonOf(paid)).toBe('payment_requirements_mismatch')
    expect(tokenOf(paid)).toBeNull()
    expect(paid.headers.get('x-402x-receipt')).toBeNull()
    expect({ verifies, settles, toppedUp }).toEqual({ verifies: 0, settles: 0, toppedUp: 0 })
    expect(await paywall.paywall.credits?.balance(token as string)).toEqual({ available: '0.01', reserved: '0' })
  })
})

describe('top-up whose answer is lost', () => {
  it('the signed-in retry of the same payment gets a token for the account that holds the credit, not credited twice', async () => {
    const app = express()
    const paywall = x402Middleware({ ...stack.paywall(), routes: { 'GET /api/data': 0.01 } })
    app.use(paywall)
    app.get('/api/data', (_req, res) => res.json({ data: 'paid' }))
    const server = createServer(app)
    const sockets = new Set<Socket>()
    server.on('connection', (s) => sockets.add(s))
    servers.push(server)
    const url = await listen(server)
    let toppedUp = 0
    paywall.paywall.events.on('toppedUp', () => toppedUp++)
    // Stands for a proxy timeout / dropped connection between the credit and the answer.
    paywall.paywall.events.once('toppedUp', () => {
      for (const socket of sockets) socket.destroy()
    })
    const path = `${url}/__402x/credits?amount=1`
    const requirements = requiredOf(await fetch(path, { method: 'POST' })).accepts[0] as PaymentRequirements
    const header = paymentHeader(0, requirements)
    const before = await stack.chain.balanceOf(buyer(0).address)
    await expect(fetch(path, { method: 'POST', headers: { 'PAYMENT-SIGNATURE': header } })).rejects.toThrow()
    expect(await stack.chain.balanceOf(buyer(0).address)).toBe(before - 1_000_000n)
    expect(toppedUp).toBe(1)

    const anonymous = await fetch(path, { method: 'POST', headers: { 'PAYMENT-SIGNATURE': header } })
    expect(anonymous.status).toBe(402)
    expect(await reasonOf(anonymous)).toBe('sign_in_required')
    expect(tokenOf(anonymous)).toBeNull()

    const retry = await fetch(path, {
      method: 'POST',
      headers: { 'PAYMENT-SIGNATURE': header, 'SIGN-IN-WITH-X': signIn(path, 0) },
    })
    expect(retry.status).toBe(200)
    const body = (await retry.json()) as TopUpAnswer
    expect(body).toMatchObject({ credited: '1', recovered: true, balance: { available: '1' } })
    expect(tokenOf(retry)).toBe(body.token)
    expect(await paywall.paywall.credits?.balance(body.token as string)).toEqual({ available: '1', reserved: '0' })
    const shown = (await (
      await fetch(`${url}/__402x/credits`, { headers: { authorization: `Bearer ${body.token}` } })
    ).json()) as { entries: { amount: string; direction: string }[] }
    expect(shown.entries).toHaveLength(1)
    expect(shown.entries[0]).toMatchObject({ amount: '1', direction: 'in' })
    // The token spends it.
    const served = await fetch(`${url}/api/data`, { headers: { authorization: `Bearer ${body.token}` } })
    expect(served.status).toBe(200)
    expect(await paywall.paywall.credits?.balance(body.token as string)).toEqual({ available: '0.99', reserved: '0' })
    expect(await stack.chain.balanceOf(buyer(0).address)).toBe(before - 1_000_000n)
  })
})
