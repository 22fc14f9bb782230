import type { Server } from 'node:http'
import { createSiwxExtension, encodeHeader, type PaymentRequirements, signSiwx } from '@402x/core'
import { x402Middleware } from '402x-api'
import express from 'express'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { receiptOf, requiredOf, signedPayment } from '../../helpers/payments.js'
import { close, createServer, listen, type Stack, startStack } from '../../helpers/stack.js'

let stack: Stack
const servers: Server[] = []
beforeAll(async () => {
  stack = await startStack()
}, 120_000)
afterAll(async () => {
  for (const s of servers) await close(s)
  await stack?.stop()
})
const buyer = (i: number) => stack.chain.buyers[i] as { address: `0x${string}`; privateKey: `0x${string}` }
const signIn = (url: string, i: number) =>
  encodeHeader(
    signSiwx({
      info: createSiwxExtension({ url, networks: [stack.chain.network] }).info,
      chainId: stack.chain.network,
      privateKey: buyer(i).privateKey,
      address: buyer(i).address,
    }),
  )

// meteredProceed.close (createPaywall.ts ~702-715) posts the payout with ref `${paid.id}:refund`
// and then always sends the transfer. A recovered retry of the same payment (creditPayment with
// recovered: true, served again from the account's credit) reaches the same ref with the same
// amount: the payout is a replay (nothing debited) but the transfer is sent again.
it("refund: 'onchain': the signed-in retry of a metered payment does not send its unused part on chain a second time", async () => {
  const app = express()
  const metered = x402Middleware({
    ...stack.paywall(),
    pricePerToken: 0.0001,
    max: 0.01,
    credits: { refund: 'onchain', refundKey: stack.chain.payTo.privateKey, rpcUrl: stack.chain.rpcUrl },
  })
  let runs = 0
  app.post('/api/complete', metered, (_req, res) => {
    runs++
    res.json({ tokens: 3 })
  })
  const server = createServer(app)
  servers.push(server)
  const url = await listen(server)
  const requirements = requiredOf(await fetch(`${url}/api/complete`, { method: 'POST' }))
    .accepts[0] as PaymentRequirements
  const header = signedPayment(buyer(0), requirements)
  // The seller's wallet holds earlier revenue ($1), as it would in production.
  await stack.chain.mint(stack.chain.payTo.address, 1_000_000n)
  const before = await stack.chain.balanceOf(buyer(0).address)
  const payTo = await stack.chain.balanceOf(stack.chain.payTo.address)

  const paid = await fetch(`${url}/api/complete`, { method: 'POST', headers: { 'PAYMENT-SIGNATURE': header } })
  expect(paid.status).toBe(200)
  expect(receiptOf(paid)).toMatchObject({ reserved: '10000', captured: '300', returned: '9700', refund: 'onchain' })
  const token = paid.headers.get('x-402x-credit-token') as string
  expect(token).toMatch(/^x402c_/)
  expect(await stack.chain.balanceOf(buyer(0).address)).toBe(before - 300n)

  // The payer tops that account up (here: an operator grant of $1), then presents the
  // same payment again with a sign-in: it is served from the account's credit.
  await metered.paywall.credits!.grant({ amount: 1, token, ref: 'topped-up' })
  for (let i = 0; i < 2; i++) {
    const retry = await fetch(`${url}/api/complete`, {
      method: 'POST',
      headers: { 'PAYMENT-SIGNATURE': header, 'SIGN-IN-WITH-X': signIn(`${url}/api/complete`, 0) },
    })
    expect(retry.status).toBe(200)
  }
  expect(runs).toBe(3)
  // Each retry used $0.0003 of credit; the unused part of its reservation stays credit.
  expect(await metered.paywall.credits!.balance(token)).toEqual({ available: '0.9994', reserved: '0' })
  // The $0.0097 went back on chain once, for the one payment.
  expect(await stack.chain.balanceOf(buyer(0).address)).toBe(before - 300n)
  expect(await stack.chain.balanceOf(stack.chain.payTo.address)).toBe(payTo + 300n)
}, 90_000)
