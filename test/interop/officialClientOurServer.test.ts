/**
 * The official client (@x402/fetch + @x402/evm) pays a route guarded by our `x402Middleware`,
 * settled on chain by our HTTP facilitator.
 */
import { createServer, type Server } from 'node:http'
import {
  decodePaymentRequiredHeader,
  decodePaymentSignatureHeader,
  encodePaymentSignatureHeader,
} from '@x402/core/http'
import type { PaymentPayload } from '@x402/core/types'
import { decodePaymentResponseHeader } from '@x402/fetch'
import { createSqliteLedger, type PaymentEvent, x402Middleware } from '402x-api'
import express from 'express'
import { generatePrivateKey } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'
import { officialPayingFetch } from './official.js'

let stack: Stack
let server: Server | undefined
let url: string
let ledgerPath: string
const payments: PaymentEvent[] = []

beforeAll(async () => {
  stack = await startStack()
  const options = stack.paywall()
  ledgerPath = options.ledger
  const app = express()
  app.use(express.json())
  app.use(
    x402Middleware({
      ...options,
      routes: {
        'GET /api/quote': { price: 0.01, description: 'a quote' },
        'POST /api/echo': { price: '$0.02', description: 'an echo' },
      },
      onPayment: (p) => payments.push(p),
    }),
  )
  app.get('/api/quote', (_req, res) => {
    res.json({ quote: 42 })
  })
  app.post('/api/echo', (req, res) => {
    res.json({ echo: req.body })
  })
  server = createServer(app)
  url = await listen(server)
})

afterAll(async () => {
  await close(server)
  await stack?.stop()
})

const buyer = (i: number) => stack.chain.buyers[i] as NonNullable<Stack['chain']['buyers'][number]>
const balance = (address: `0x${string}`) => stack.chain.balanceOf(address)

describe('official @x402/fetch client → our x402Middleware', () => {
  it('reads our 402 with the official decoder', async () => {
    const res = await fetch(`${url}/api/quote`)
    expect(res.status).toBe(402)
    const required = decodePaymentRequiredHeader(res.headers.get('payment-required') as string)
    expect(required.x402Version).toBe(2)
    expect(required.resource.url).toBe(`${url}/api/quote`)
    expect(required.accepts).toEqual([
      {
        scheme: 'exact',
        network: 'eip155:31337',
        amount: '10000',
        asset: stack.chain.usdc,
        payTo: stack.chain.payTo.address,
        maxTimeoutSeconds: 60,
        extra: { name: 'USD Coin', version: '2' },
      },
    ])
  })

  it('pays a GET: 200, PAYMENT-RESPONSE success, USDC moved, settled by our gas wallet', async () => {
    const payer = buyer(0)
    const payToBefore = await balance(stack.chain.payTo.address)
    const payerBefore = await balance(payer.address)
    const pay = officialPayingFetch({ chain: stack.chain, privateKey: payer.privateKey })

    const res = await pay(`${url}/api/quote`)

    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ quote: 42 })
    const settle = decodePaymentResponseHeader(res.headers.get('payment-response') as string)
    expect(settle).toMatchObject({ success: true, network: 'eip155:31337', payer: payer.address })
    expect(settle.transaction).toMatch(/^0x[0-9a-f]{64}$/)
    expect(await balance(stack.chain.payTo.address)).toBe(payToBefore + 10000n)
    expect(await balance(payer.address)).toBe(payerBefore - 10000n)

    const hash = settle.transaction as `0x${string}`
    const tx = await stack.chain.publicClient.getTransaction({ hash })
    expect(tx.from.toLowerCase()).toBe(stack.chain.facilitator.address.toLowerCase())
    expect(tx.to?.toLowerCase()).toBe(stack.chain.usdc.toLowerCase())
    const receipt = await stack.chain.publicClient.getTransactionReceipt({ hash })
    expect(receipt.status).toBe('success')

    expect(payments.at(-1)).toMatchObject({ state: 'settled', payer: payer.address, amount: 10000n, transaction: hash })
    const ledger = createSqliteLedger({ path: ledgerPath })
    try {
      const row = (await ledger.list()).find((r) => r.transaction === hash)
      expect(row).toMatchObject({ state: 'settled', amount: '10000', payer: payer.address.toLowerCase() })
    } finally {
      await ledger.close()
    }
  })

  it('pays a POST and our server reads the body the official client sent again', async () => {
    const payer = buyer(1)
    const payToBefore = await balance(stack.chain.payTo.address)
    const pay = officialPayingFetch({ chain: stack.chain, privateKey: payer.privateKey })

    const res = await pay(`${url}/api/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'Hello, world!' }),
    })

    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ echo: { text: 'Hello, world!' } })
    const settle = decodePaymentResponseHeader(res.headers.get('payment-response') as string)
    expect(settle.success).toBe(true)
    expect(await balance(stack.chain.payTo.address)).toBe(payToBefore + 20000n)
  })

  it('refuses with 402 a payment for an amount it does not offer, and charges nothing', async () => {
    const payer = buyer(2)
    const payerBefore = await balance(payer.address)
    // The official client signs whatever requirements its selector returns: here 1 atomic unit.
    const pay = officialPayingFetch({
      chain: stack.chain,
      privateKey: payer.privateKey,
      selector: (_version, accepts) => ({ ...(accepts[0] as NonNullable<(typeof accepts)[number]>), amount: '1' }),
    })

    const res = await pay(`${url}/api/quote`)

    expect(res.status).toBe(402)
    expect(res.headers.get('payment-response')).toBeNull()
    const required = decodePaymentRequiredHeader(res.headers.get('payment-required') as string)
    expect(required.error).toBe('payment_requirements_mismatch')
    expect(required.accepts[0]?.amount).toBe('10000')
    expect(await res.json()).toMatchObject({ reason: 'payment_requirements_mismatch' })
    expect(await balance(payer.address)).toBe(payerBefore)
  })

  it('refuses with 402 insufficient_funds a payer holding no USDC', async () => {
    const pay = officialPayingFetch({ chain: stack.chain, privateKey: generatePrivateKey() })
    const payToBefore = await balance(stack.chain.payTo.address)

    const res = await pay(`${url}/api/quote`)

    expect(res.status).toBe(402)
    const required = decodePaymentRequiredHeader(res.headers.get('payment-required') as string)
    expect(required.error).toBe('insufficient_funds')
    expect(await balance(stack.chain.payTo.address)).toBe(payToBefore)
  })

  it('serves an official payment once: the same PAYMENT-SIGNATURE replayed is refused', async () => {
    const payer = buyer(3)
    let payload: PaymentPayload | undefined
    const pay = officialPayingFetch({
      chain: stack.chain,
      privateKey: payer.privateKey,
      onPayload: (p) => {
        payload = p
      },
    })
    const first = await pay(`${url}/api/quote`)
    expect(first.status).toBe(200)
    expect(payload).toBeDefined()
    const header = encodePaymentSignatureHeader(payload as PaymentPayload)
    expect(decodePaymentSignatureHeader(header).payload).toMatchObject({
      authorization: { from: payer.address, value: '10000' },
    })
    const payerAfterFirst = await balance(payer.address)

    const replay = await fetch(`${url}/api/quote`, { headers: { 'PAYMENT-SIGNATURE': header } })

    expect(replay.status).toBe(402)
    const required = decodePaymentRequiredHeader(replay.headers.get('payment-required') as string)
    expect(required.error).toBe('invalid_exact_evm_nonce_already_used')
    expect(await balance(payer.address)).toBe(payerAfterFirst)
  })

  it('is refused by the official client itself when the price exceeds its spend cap', async () => {
    const payer = buyer(4)
    const payerBefore = await balance(payer.address)
    const pay = officialPayingFetch({ chain: stack.chain, privateKey: payer.privateKey, maxAmountPerPayment: '5000' })
    await expect(pay(`${url}/api/quote`)).rejects.toThrow(/spendControls/)
    expect(await balance(payer.address)).toBe(payerBefore)
  })
})
