/**
 * The official facilitator (`x402Facilitator`, in process) on our side's behalf:
 * - our client (402x-client) pays the official `@x402/express` server it settles for;
 * - our `x402Middleware` settles through it over HTTP, paid by the official client.
 */
import { createServer, type Server } from 'node:http'
import { decodePaymentResponseHeader } from '@x402/fetch'
import { x402Middleware } from '402x-api'
import { BudgetExceededError, createX402Client, X402HttpError } from '402x-client'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'
import {
  type OfficialFacilitator,
  type OfficialServer,
  officialFacilitator,
  officialPayingFetch,
  paymentRequiredError,
  serveFacilitator,
  startOfficialServer,
} from './official.js'

let stack: Stack
let facilitator: OfficialFacilitator
let official: OfficialServer | undefined
let facilitatorServer: Server | undefined
let ours: Server | undefined
let oursUrl: string

beforeAll(async () => {
  stack = await startStack()
  facilitator = await officialFacilitator(stack.chain)
  official = await startOfficialServer({ chain: stack.chain, facilitator: facilitator.client })
  facilitatorServer = serveFacilitator(facilitator.client)
  const facilitatorUrl = await listen(facilitatorServer)
  const app = express()
  app.get(
    '/api/quote',
    x402Middleware({ ...stack.paywall({ facilitator: facilitatorUrl }), price: 0.01 }),
    (_req, res) => {
      res.json({ quote: 42 })
    },
  )
  ours = createServer(app)
  oursUrl = await listen(ours)
})

afterAll(async () => {
  await close(ours)
  await close(facilitatorServer)
  await close(official?.server)
  await stack?.stop()
})

const buyer = (i: number) => stack.chain.buyers[i] as NonNullable<Stack['chain']['buyers'][number]>
const balance = (address: `0x${string}`) => stack.chain.balanceOf(address)
const client = (privateKey: `0x${string}`, budget?: { maxPerRequest: number }) =>
  createX402Client({
    wallet: privateKey,
    allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
    ...(budget ? { budget } : {}),
  })

describe('our createX402Client → official @x402/express (official in-process facilitator)', () => {
  it('pays a GET: 200, a settled receipt, USDC moved by the official facilitator', async () => {
    const { url } = official as OfficialServer
    const payer = buyer(0)
    const payToBefore = await balance(stack.chain.payTo.address)
    const payerBefore = await balance(payer.address)
    const c = client(payer.privateKey)

    const res = await c.get<{ ok: boolean; data: string }>(`${url}/paid`)

    expect(res.status).toBe(200)
    expect(res.data).toEqual({ ok: true, data: 'secret' })
    const settle = decodePaymentResponseHeader(res.headers.get('payment-response') as string)
    expect(settle).toMatchObject({ success: true, network: 'eip155:31337', payer: payer.address })
    expect(res.receipt).toMatchObject({
      status: 'settled',
      amount: 10000n,
      price: '0.01',
      payer: payer.address,
      payTo: stack.chain.payTo.address,
      transaction: settle.transaction,
    })
    expect(c.spent()).toBe(10000n)
    expect(await balance(stack.chain.payTo.address)).toBe(payToBefore + 10000n)
    expect(await balance(payer.address)).toBe(payerBefore - 10000n)
    const tx = await stack.chain.publicClient.getTransaction({ hash: settle.transaction as `0x${string}` })
    expect(tx.from.toLowerCase()).toBe(facilitator.address.toLowerCase())
  })

  it('pays a POST with a JSON body, re-sent with the payment', async () => {
    const { url } = official as OfficialServer
    const payer = buyer(1)
    const payToBefore = await balance(stack.chain.payTo.address)

    const res = await client(payer.privateKey).post<{ echo: unknown }>(`${url}/echo`, { text: 'Hello' })

    expect(res.status).toBe(200)
    expect(res.data).toEqual({ echo: { text: 'Hello' } })
    expect(res.receipt?.status).toBe('settled')
    expect(await balance(stack.chain.payTo.address)).toBe(payToBefore + 10000n)
  })

  it('surfaces the official 402 when the payer holds no USDC, and spends nothing from its budget', async () => {
    const { url } = official as OfficialServer
    const broke = await stack.chain.newBuyer(0n)
    const payToBefore = await balance(stack.chain.payTo.address)
    const c = client(broke.privateKey)

    const error = await c.get(`${url}/paid`).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(X402HttpError)
    const response = (error as X402HttpError).response
    expect(response.status).toBe(402)
    expect(response.receipt).toBeUndefined()
    // The official facilitator's reason for a transfer that cannot go through.
    expect(paymentRequiredError(response.headers)).toBe('invalid_exact_evm_transaction_simulation_failed')
    expect((error as X402HttpError).message).toContain('invalid_exact_evm_transaction_simulation_failed')
    expect(c.spent()).toBe(0n)
    expect(await balance(stack.chain.payTo.address)).toBe(payToBefore)
  })

  it('refuses, before signing, a price over its budget', async () => {
    const { url } = official as OfficialServer
    const c = client(buyer(2).privateKey, { maxPerRequest: 0.005 })
    await expect(c.get(`${url}/paid`)).rejects.toBeInstanceOf(BudgetExceededError)
    expect(c.spent()).toBe(0n)
  })
})

describe('our x402Middleware → official facilitator over HTTP, paid by the official client', () => {
  it('settles on chain from the official gas wallet', async () => {
    const payer = buyer(3)
    const payToBefore = await balance(stack.chain.payTo.address)
    const payerBefore = await balance(payer.address)
    const pay = officialPayingFetch({ chain: stack.chain, privateKey: payer.privateKey })

    const res = await pay(`${oursUrl}/api/quote`)

    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ quote: 42 })
    const settle = decodePaymentResponseHeader(res.headers.get('payment-response') as string)
    expect(settle).toMatchObject({ success: true, network: 'eip155:31337', payer: payer.address })
    expect(await balance(stack.chain.payTo.address)).toBe(payToBefore + 10000n)
    expect(await balance(payer.address)).toBe(payerBefore - 10000n)
    const tx = await stack.chain.publicClient.getTransaction({ hash: settle.transaction as `0x${string}` })
    expect(tx.from.toLowerCase()).toBe(facilitator.address.toLowerCase())
  })

  it('passes the official facilitator’s refusal through in our 402', async () => {
    const broke = await stack.chain.newBuyer(0n)
    const payToBefore = await balance(stack.chain.payTo.address)
    const pay = officialPayingFetch({ chain: stack.chain, privateKey: broke.privateKey })

    const res = await pay(`${oursUrl}/api/quote`)

    expect(res.status).toBe(402)
    expect(paymentRequiredError(res.headers)).toBe('invalid_exact_evm_transaction_simulation_failed')
    expect(await res.json()).toMatchObject({ reason: 'invalid_exact_evm_transaction_simulation_failed' })
    expect(await balance(stack.chain.payTo.address)).toBe(payToBefore)
  })
})
