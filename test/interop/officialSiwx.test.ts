import { createServer, type Server } from 'node:http'
import { wrapFetchWithSIWx } from '@x402/extensions/sign-in-with-x'
import { x402Middleware } from '402x-api'
import express from 'express'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'
import { officialPayingFetch } from './official.js'

// The official sign-in-with-x client (@x402/extensions) against our free tier per payer,
// and the official paying client once the free requests are used up.
let stack: Stack
let server: Server
let url: string

beforeAll(async () => {
  stack = await startStack()
  const app = express()
  app.get(
    '/api/search',
    x402Middleware({ ...stack.paywall(), price: 0.01, free: { requests: 2, by: 'payer', windowMs: 60_000 } }),
    (_req, res) => {
      res.json({ results: ['a', 'b'] })
    },
  )
  server = createServer(app)
  url = await listen(server)
})

afterAll(async () => {
  await close(server)
  await stack?.stop()
})

describe('official sign-in-with-x client → 402x free tier per payer', () => {
  it('gets the free requests of the wallet it proves, then a 402 that the official client pays', async () => {
    const buyer = stack.chain.buyers[0]!
    const signIn = wrapFetchWithSIWx(fetch, privateKeyToAccount(buyer.privateKey))
    const before = await stack.chain.balanceOf(buyer.address)
    expect((await signIn(`${url}/api/search`)).status).toBe(200)
    expect((await signIn(`${url}/api/search`)).status).toBe(200)
    expect((await signIn(`${url}/api/search`)).status).toBe(402)
    expect(await stack.chain.balanceOf(buyer.address)).toBe(before)
    // Another wallet has its own free requests.
    const other = wrapFetchWithSIWx(fetch, privateKeyToAccount(stack.chain.buyers[1]!.privateKey))
    expect((await other(`${url}/api/search`)).status).toBe(200)
    // Paying works as usual once the free tier is used up.
    const pay = officialPayingFetch({ chain: stack.chain, privateKey: buyer.privateKey })
    const paid = await pay(`${url}/api/search`)
    expect(paid.status).toBe(200)
    expect(before - (await stack.chain.balanceOf(buyer.address))).toBe(10000n)
  })
})
