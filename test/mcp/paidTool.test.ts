import { createPayment, type PaymentPayload, type PaymentRequired } from '@402x/core'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { x402Client as OfficialClient } from '@x402/core/client'
import type { PaymentRequired as OfficialPaymentRequired } from '@x402/core/types'
import { toClientEvmSigner } from '@x402/evm'
import { ExactEvmScheme } from '@x402/evm/exact/client'
import { createPaywall, type Paywall, paidTool } from '402x-api'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { type Stack, startStack } from '../helpers/stack.js'
import { callTool, challengeOf, serveOverHttp } from './serveMcp.js'

// paidTool on the SDK's own McpServer and Client over streamable HTTP, on the local chain:
// x402's MCP transport (specs/transports-v2/mcp.md), the paywall's ledger and credit.
let stack: Stack
let paywall: Paywall
let client: Client
let stop: (() => Promise<void>) | undefined
const runs = { forecast: 0, broken: 0, flaky: 0 }

beforeAll(async () => {
  stack = await startStack()
  paywall = createPaywall({ ...stack.paywall(), routes: {} })
  const mcp = new McpServer({ name: 'weather', version: '1.0.0' })
  paidTool(
    mcp,
    'forecast',
    { price: 0.01, description: 'Tomorrow in a city', inputSchema: { city: z.string() }, paywall },
    async ({ city }) => {
      runs.forecast++
      return { content: [{ type: 'text', text: `Sunny in ${city}` }] }
    },
  )
  paidTool(mcp, 'broken', { price: 0.01, paywall }, async () => {
    runs.broken++
    throw new Error('the upstream is down')
  })
  paidTool(mcp, 'flaky', { price: 0.01, paywall }, async () => {
    runs.flaky++
    return { isError: true, content: [{ type: 'text', text: 'no data today' }] }
  })
  paidTool(
    mcp,
    'quote',
    { price: ({ arguments: a }) => a.pages * 0.002, inputSchema: { pages: z.number() }, paywall },
    ({ pages }) => ({
      content: [{ type: 'text', text: `${pages} pages` }],
    }),
  )
  const served = await serveOverHttp(mcp)
  client = served.client
  stop = served.close
})

afterAll(async () => {
  await stop?.()
  await paywall?.close()
  await stack?.stop()
})

const call = (name: string, args?: Record<string, unknown>, meta?: Record<string, unknown>) =>
  callTool(client, name, args, meta)

const pay = (required: PaymentRequired, buyer = stack.chain.buyers[0]) =>
  createPayment({ privateKey: buyer!.privateKey, from: buyer!.address, requirements: required.accepts[0]! })

const rows = async () =>
  paywall.config.ledger.listByState(['verified', 'settling', 'settled', 'pending', 'released', 'failed', 'rejected'])

describe('paidTool', () => {
  it('lists the tool with its schema; a call without payment gets the x402 challenge, unserved', async () => {
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name).sort()).toEqual(['broken', 'flaky', 'forecast', 'quote'])
    const required = challengeOf(await call('forecast', { city: 'Paris' }))
    expect(required.x402Version).toBe(2)
    expect(required.resource?.url).toBe('mcp://tool/forecast')
    expect(required.resource?.description).toBe('Tomorrow in a city')
    expect(required.accepts[0]).toMatchObject({
      scheme: 'exact',
      network: stack.chain.network,
      amount: '10000',
      asset: stack.chain.usdc,
      payTo: stack.chain.payTo.address,
    })
    // The bazaar extension describes the tool (type mcp), not an HTTP route.
    expect(required.extensions?.bazaar).toMatchObject({
      info: {
        input: {
          type: 'mcp',
          tool: 'forecast',
          inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      },
    })
    // No tool sells credit on this server: no top-up is offered.
    expect(required.extensions?.['402x-credits']).toBeUndefined()
    expect(runs.forecast).toBe(0)
  })

  it('pays in _meta["x402/payment"]: served, settled on chain, the receipt in _meta["x402/payment-response"], one ledger row', async () => {
    const buyer = stack.chain.buyers[0]!
    const before = await stack.chain.balanceOf(buyer.address)
    const required = challengeOf(await call('forecast', { city: 'Paris' }))
    const payment = pay(required)
    const result = await call('forecast', { city: 'Paris' }, { 'x402/payment': payment })
    expect(result.isError).toBeFalsy()
    expect(result.content).toEqual([{ type: 'text', text: 'Sunny in Paris' }])
    const receipt = result._meta?.['x402/payment-response'] as Record<string, unknown>
    expect(receipt).toMatchObject({ success: true, network: stack.chain.network })
    expect(String(receipt.payer).toLowerCase()).toBe(buyer.address.toLowerCase())
    expect(receipt.transaction).toMatch(/^0x[0-9a-f]{64}$/)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10_000n)
    const settled = (await rows()).filter((r) => r.state === 'settled' && r.resource === 'mcp://tool/forecast')
    expect(settled).toHaveLength(1)
    expect(settled[0]).toMatchObject({ amount: '10000', transaction: receipt.transaction })

    // The same payment again: refused, not served, not charged twice.
    const replay = await call('forecast', { city: 'Paris' }, { 'x402/payment': payment })
    expect(replay.isError).toBe(true)
    expect(challengeOf(replay).error).toBe('invalid_exact_evm_nonce_already_used')
    expect(JSON.stringify(replay.content)).not.toContain('Sunny')
    expect(runs.forecast).toBe(1)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before - 10_000n)
  })

  it('a handler that throws or returns isError is not charged: the payment is released', async () => {
    const buyer = stack.chain.buyers[1]!
    const before = await stack.chain.balanceOf(buyer.address)
    for (const name of ['broken', 'flaky'] as const) {
      const required = challengeOf(await call(name))
      const result = await call(name, undefined, { 'x402/payment': pay(required, buyer) })
      expect(result.isError).toBe(true)
      expect(result._meta?.['x402/payment-response']).toBeUndefined()
      expect(runs[name]).toBe(1)
    }
    expect(JSON.stringify((await call('flaky', undefined, {})).structuredContent)).toContain('accepts')
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
    const released = (await rows()).filter((r) => r.payer.toLowerCase() === buyer.address.toLowerCase())
    expect(released.map((r) => r.state)).toEqual(['released', 'released'])
  })

  it('prices from the arguments; a payment signed for another price is refused with the new challenge', async () => {
    const required = challengeOf(await call('quote', { pages: 3 }))
    expect(required.accepts[0]?.amount).toBe('6000')
    const result = await call('quote', { pages: 5 }, { 'x402/payment': pay(required, stack.chain.buyers[2]) })
    const again = challengeOf(result)
    expect(again.accepts[0]?.amount).toBe('10000')
    expect(again.error).toBeTruthy()
  })

  it('a malformed payment is refused with invalid_payment, before the paywall', async () => {
    const result = await call('forecast', { city: 'Oslo' }, { 'x402/payment': 'not a payload' })
    expect(result.isError).toBe(true)
    expect(result.structuredContent).toMatchObject({ error: 'invalid_payment' })
    expect(runs.forecast).toBe(1)
  })

  it('a credit token in _meta["402x/credit"] is drawn down, with its receipt in _meta["402x/receipt"]', async () => {
    const { token } = await paywall.credits!.grant({ amount: 0.05 })
    const result = await call('forecast', { city: 'Rome' }, { '402x/credit': token })
    expect(result.content).toEqual([{ type: 'text', text: 'Sunny in Rome' }])
    expect(result._meta?.['402x/receipt']).toMatchObject({ captured: '10000', balance: '40000' })
    expect(await paywall.credits!.balance(token!)).toMatchObject({ available: '0.04' })
    // A failing tool draws nothing.
    await call('broken', undefined, { '402x/credit': token })
    expect(await paywall.credits!.balance(token!)).toMatchObject({ available: '0.04' })
  })

  it('accepts a payload made by the official @x402/core client with @x402/evm', async () => {
    const buyer = stack.chain.buyers[3]!
    const official = new OfficialClient()
      .register(
        stack.chain.network as `${string}:${string}`,
        new ExactEvmScheme(toClientEvmSigner(privateKeyToAccount(buyer.privateKey))),
      )
      .setSpendControls({ allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }] })
    const required = challengeOf(await call('forecast', { city: 'Lima' }))
    const payload: PaymentPayload = (await official.createPaymentPayload(
      required as unknown as OfficialPaymentRequired,
    )) as unknown as PaymentPayload
    const result = await call('forecast', { city: 'Lima' }, { 'x402/payment': payload })
    expect(result.content).toEqual([{ type: 'text', text: 'Sunny in Lima' }])
    expect(result._meta?.['x402/payment-response']).toMatchObject({ success: true })
  })
})
