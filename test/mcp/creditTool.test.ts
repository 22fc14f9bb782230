import { createPayment, type PaymentRequired } from '@402x/core'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { createPaywall, creditTool, type Paywall, paidTool } from '402x-api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { type Stack, startStack } from '../helpers/stack.js'
import { callTool, challengeOf, serveOverHttp } from './serveMcp.js'

// An agent buys credit over MCP and pays tools with it, with the SDK's own Client and
// McpServer over streamable HTTP, on the local chain: the paid tool's challenge offers the
// credit tool (extensions['402x-credits']), the credit tool's own challenge is paid with x402,
// its token pays the paid tools in _meta['402x/credit'], and tops its account up.
let stack: Stack
let paywall: Paywall
let client: Client
let stop: (() => Promise<void>) | undefined
const runs = { forecast: 0, report: 0 }

beforeAll(async () => {
  stack = await startStack()
  paywall = createPaywall({ ...stack.paywall(), routes: {} })
  const mcp = new McpServer({ name: 'weather', version: '1.0.0' })
  paidTool(mcp, 'forecast', { price: 0.01, inputSchema: { city: z.string() }, paywall }, async ({ city }) => {
    runs.forecast++
    return { content: [{ type: 'text', text: `Sunny in ${city}` }] }
  })
  paidTool(mcp, 'report', { price: 0.1, paywall }, async () => {
    runs.report++
    return { content: [{ type: 'text', text: 'a long report' }] }
  })
  creditTool(mcp, { paywall })
  const served = await serveOverHttp(mcp)
  client = served.client
  stop = served.close
}, 60_000)

afterAll(async () => {
  await stop?.()
  await paywall?.close()
  await stack?.stop()
})

const call = (...args: Parameters<typeof callTool> extends [unknown, ...infer Rest] ? Rest : never) =>
  callTool(client, ...args)

const textOf = (result: CallToolResult, i: number) => (result.content[i] as { text: string }).text
const buyer = () => stack.chain.buyers[0] as { address: `0x${string}`; privateKey: `0x${string}` }
const pay = (required: PaymentRequired) =>
  createPayment({ privateKey: buyer().privateKey, from: buyer().address, requirements: required.accepts[0]! })

describe('creditTool', () => {
  it('an agent buys credit from the tool the challenge offers, then pays tools by token', async () => {
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name).sort()).toEqual(['buy_credit', 'forecast', 'report'])

    // 1. The paid tool's challenge offers the credit tool, as REST's 402 offers /__402x/credits.
    const unpaid = await call('forecast', { city: 'Paris' })
    const offer = challengeOf(unpaid).extensions?.['402x-credits'] as { info: Record<string, string> }
    expect(offer.info).toEqual({
      tool: 'buy_credit',
      topUp: 'mcp://tool/buy_credit',
      minTopUp: '0.01',
      maxTopUp: '1000',
      suggested: '1',
    })
    expect(textOf(unpaid, 1)).toMatch(
      /buy credit with the tool buy_credit and send its token in _meta\['402x\/credit'\]/,
    )

    // 2. The credit tool answers x402's challenge for the amount; paid, it gives a token.
    const quote = challengeOf(await call(offer.info.tool as string, { amount: '0.05' }))
    expect(quote.resource?.url).toBe('mcp://tool/buy_credit')
    expect(quote.accepts[0]).toMatchObject({ amount: '50000', payTo: stack.chain.payTo.address })
    const before = await stack.chain.balanceOf(buyer().address)
    const payment = pay(quote)
    const bought = await call('buy_credit', { amount: '0.05' }, { 'x402/payment': payment })
    expect(bought.isError).toBeFalsy()
    const receipt = bought.structuredContent as { token: string; credited: string; balance: { available: string } }
    expect(receipt.token).toMatch(/^x402c_/)
    expect(receipt).toMatchObject({ credited: '0.05', balance: { available: '0.05' } })
    expect(JSON.parse(textOf(bought, 0))).toEqual(bought.structuredContent)
    expect(bought._meta?.['x402/payment-response']).toMatchObject({ success: true, network: stack.chain.network })
    expect(await stack.chain.balanceOf(buyer().address)).toBe(before - 50_000n)
    const rows = await paywall.config.ledger.listByState(['settled'])
    expect(rows.filter((r) => r.resource === 'mcp://tool/buy_credit').map((r) => r.amount)).toEqual(['50000'])

    // 3. The token pays the paid tool from credit, with no chain work.
    const { token } = receipt
    const served = await call('forecast', { city: 'Rome' }, { '402x/credit': token })
    expect(served.content).toEqual([{ type: 'text', text: 'Sunny in Rome' }])
    expect(served._meta?.['402x/receipt']).toMatchObject({ captured: '10000', balance: '40000' })
    expect(await stack.chain.balanceOf(buyer().address)).toBe(before - 50_000n)

    // 4. Too little credit: the challenge offers the tool again, with the balance.
    const short = await call('report', undefined, { '402x/credit': token })
    const again = challengeOf(short)
    expect(again.error).toBe('insufficient_credit')
    expect(again.extensions?.['402x-credits']).toMatchObject({ info: { tool: 'buy_credit', balance: '0.04' } })
    expect(textOf(short, 1)).toMatch(/costs \$0\.1 and the credit left is \$0\.04: buy more with the tool buy_credit/)
    expect(runs.report).toBe(0)

    // 5. A top-up with the token credits its account (no new token), and the call goes through.
    const more = challengeOf(await call('buy_credit', { amount: '0.1' }, { '402x/credit': token }))
    const topped = await call('buy_credit', { amount: '0.1' }, { '402x/credit': token, 'x402/payment': pay(more) })
    expect(topped.structuredContent).toMatchObject({ credited: '0.1', balance: { available: '0.14' } })
    expect((topped.structuredContent as { token?: string }).token).toBeUndefined()
    const report = await call('report', undefined, { '402x/credit': token })
    expect(report.content).toEqual([{ type: 'text', text: 'a long report' }])
    expect(await paywall.credits!.balance(token)).toMatchObject({ available: '0.04' })

    // The top-up's payment presented again buys nothing more (REST gives its token back to a
    // signed-in payer; MCP carries no sign-in, so the agent keeps its token).
    const replay = await call('buy_credit', { amount: '0.05' }, { 'x402/payment': payment })
    expect(challengeOf(replay).error).toBe('sign_in_required')
    expect(replay.structuredContent).not.toHaveProperty('token')
    expect(await stack.chain.balanceOf(buyer().address)).toBe(before - 150_000n)
  })

  it('refuses an amount outside the top-up range, before anything is asked', async () => {
    const result = await call('buy_credit', { amount: '0.001' })
    expect(result.isError).toBe(true)
    expect(result.structuredContent).toMatchObject({ error: 'invalid_request', status: 400 })
    expect(textOf(result, 0)).toMatch(/amount is \$0\.001: buy between \$0\.01 and \$1000/)
  })

  it('stops start-up on a paywall with credit off, or a misspelt option', () => {
    const off = createPaywall({ ...stack.paywall(), routes: {}, credits: false })
    try {
      const mcp = new McpServer({ name: 'x', version: '1.0.0' })
      expect(() => creditTool(mcp, { paywall: off })).toThrow(/credit turned off \(credits: false\)/)
      expect(() => creditTool(mcp, { paywall, nmae: 'x' } as never)).toThrow(/`nmae` is not an option/)
    } finally {
      void off.close()
    }
  })
})
