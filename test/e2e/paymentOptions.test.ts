import { createServer, type Server } from 'node:http'
import { createPayment, decodeHeader, encodeHeader, PaymentRequiredSchema } from '@402x/core'
import { anvilKeys, deployUsdc, fiatTokenAbi, roles } from '@402x/devchain'
import { createSqliteLedger, type PayerInfo, x402Middleware } from '402x-api'
import { createX402Client } from '402x-client'
import express from 'express'
import { type Address, createWalletClient, http } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'

// Several accepted payment options on one route, in the seller's order: USDC first, then a
// second dollar token (Circle's FiatToken deployed again as "USDbC") paid to another address.
let stack: Stack
let server: Server
let url: string
let second: Address
let ledgerPath: string
const secondDomain = { name: 'USD Base Coin', version: '2' }
const seen: PayerInfo[] = []
const treasury = privateKeyToAccount(generatePrivateKey()).address

const balanceOf = async (token: Address, who: Address) =>
  (await stack.chain.publicClient.readContract({
    address: token,
    abi: fiatTokenAbi,
    functionName: 'balanceOf',
    args: [who],
  })) as bigint

beforeAll(async () => {
  stack = await startStack()
  second = await deployUsdc({
    rpcUrl: stack.chain.rpcUrl,
    publicClient: stack.chain.publicClient,
    ownerKey: stack.chain.owner.privateKey,
    proxyAdminKey: anvilKeys[roles.proxyAdmin],
    name: secondDomain.name,
    symbol: 'USDbC',
  })
  const owner = createWalletClient({
    account: privateKeyToAccount(stack.chain.owner.privateKey),
    chain: foundry,
    transport: http(stack.chain.rpcUrl),
  })
  for (const buyer of stack.chain.buyers.slice(0, 3)) {
    const hash = await owner.writeContract({
      address: second,
      abi: fiatTokenAbi,
      functionName: 'mint',
      args: [buyer.address, 1_000_000_000n],
    })
    await stack.chain.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 })
  }
  const options = stack.paywall()
  ledgerPath = options.ledger
  const app = express()
  app.get(
    '/api/report',
    x402Middleware({
      ...options,
      price: 0.25,
      accepts: [{ network: stack.chain.network, asset: { address: second, eip712: secondDomain }, payTo: treasury }],
    }),
    (_req, res) => {
      res.json({ report: 'ok' })
    },
  )
  app.get(
    '/api/tiered',
    x402Middleware({
      ...options,
      accepts: [{ network: stack.chain.network, asset: { address: second, eip712: secondDomain }, payTo: treasury }],
      price: (_req, user) => {
        seen.push(user)
        return 0.01
      },
    }),
    (_req, res) => {
      res.json({ ok: true })
    },
  )
  server = createServer(app)
  url = await listen(server)
})

afterAll(async () => {
  await close(server)
  await stack?.stop()
})

describe('several accepted payment options', () => {
  it('lists every option in the seller’s order', async () => {
    const res = await fetch(`${url}/api/report`)
    expect(res.status).toBe(402)
    const required = decodeHeader(res.headers.get('payment-required')!, PaymentRequiredSchema)
    if (!required.ok) throw new Error('no header')
    expect(required.value.accepts.map((a) => [a.asset, a.payTo, a.amount, a.extra?.name])).toEqual([
      [stack.chain.usdc, stack.chain.payTo.address, '250000', 'USD Coin'],
      [second, treasury, '250000', secondDomain.name],
    ])
    const body = (await res.json()) as { accepts: unknown[] }
    expect(body.accepts).toHaveLength(2)
  })

  it('settles a payment in the second option, to its own payTo, and records its asset', async () => {
    const res = await fetch(`${url}/api/report`)
    const required = decodeHeader(res.headers.get('payment-required')!, PaymentRequiredSchema)
    if (!required.ok) throw new Error('no header')
    const buyer = stack.chain.buyers[0]!
    const payment = createPayment({
      privateKey: buyer.privateKey,
      from: buyer.address,
      requirements: required.value.accepts[1]!,
    })
    const usdcBefore = await stack.chain.balanceOf(buyer.address)
    const secondBefore = await balanceOf(second, treasury)
    const paid = await fetch(`${url}/api/report`, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment) } })
    expect(paid.status).toBe(200)
    expect((await balanceOf(second, treasury)) - secondBefore).toBe(250000n)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(usdcBefore)
    const ledger = createSqliteLedger({ path: ledgerPath })
    try {
      const [row] = await ledger.list({ limit: 1 })
      expect(row).toMatchObject({ state: 'settled', asset: second.toLowerCase(), payTo: treasury, amount: '250000' })
    } finally {
      await ledger.close()
    }
  })

  it('has a client pay the seller’s first option when the prices tie', async () => {
    const buyer = stack.chain.buyers[1]!
    const client = createX402Client({
      wallet: buyer.privateKey,
      allowedAssets: [{ network: stack.chain.network, asset: second }],
      budget: { maxPerRequest: 1 },
    })
    const usdcBefore = await stack.chain.balanceOf(buyer.address)
    const secondBefore = await balanceOf(second, buyer.address)
    const res = await client.get(`${url}/api/report`)
    expect(res.status).toBe(200)
    expect(usdcBefore - (await stack.chain.balanceOf(buyer.address))).toBe(250000n)
    expect(await balanceOf(second, buyer.address)).toBe(secondBefore)
  })

  it('refuses a payment in an asset the route does not accept', async () => {
    const res = await fetch(`${url}/api/report`)
    const required = decodeHeader(res.headers.get('payment-required')!, PaymentRequiredSchema)
    if (!required.ok) throw new Error('no header')
    const buyer = stack.chain.buyers[2]!
    const payment = createPayment({
      privateKey: buyer.privateKey,
      from: buyer.address,
      requirements: { ...required.value.accepts[1]!, payTo: buyer.address },
    })
    const paid = await fetch(`${url}/api/report`, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment) } })
    expect(paid.status).toBe(402)
    expect(await paid.json()).toMatchObject({ reason: 'payment_requirements_mismatch' })
  })

  it('counts a payer’s month across every accepted asset, each by its own decimals', async () => {
    const buyer = stack.chain.buyers[2]!
    const quote = async () => {
      const res = await fetch(`${url}/api/tiered`, { headers: { 'x-402x-payer': buyer.address } })
      const required = decodeHeader(res.headers.get('payment-required')!, PaymentRequiredSchema)
      if (!required.ok) throw new Error('no header')
      return required.value.accepts
    }
    for (const option of [0, 1]) {
      const payment = createPayment({
        privateKey: buyer.privateKey,
        from: buyer.address,
        requirements: (await quote())[option]!,
      })
      const paid = await fetch(`${url}/api/tiered`, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(payment) } })
      expect(paid.status).toBe(200)
    }
    await quote()
    expect(seen.at(-1)).toEqual({ address: buyer.address.toLowerCase(), monthlyRequests: 2, monthlySpent: '0.02' })
  })
})
