import { join } from 'node:path'
import { createX402Client, wrapFetch } from '402x-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DevProcess, startDevProcess } from '../helpers/devProcess.js'

// The README's explicit client, `createX402Client({ wallet })` and `wrapFetch(fetch, { wallet })`,
// against a running `402x dev`: its freshly deployed USDC must be known without allowedAssets,
// as it is to the ready-made `x402Client`.
let dev: DevProcess
const savedStateDir = process.env.X402_STATE_DIR

beforeAll(async () => {
  dev = await startDevProcess()
  // The client reads `.402x/dev.json` of the folder it runs in; here, the dev process's folder.
  process.env.X402_STATE_DIR = join(dev.dir, '.402x')
})

afterAll(async () => {
  if (savedStateDir === undefined) delete process.env.X402_STATE_DIR
  else process.env.X402_STATE_DIR = savedStateDir
  await dev?.stop()
})

describe('the explicit client against 402x dev', () => {
  it('createX402Client({ wallet }) pays the demo API with the local USDC', async () => {
    const client = createX402Client({ wallet: dev.ready.buyerPrivateKey, budget: { allowedHosts: ['127.0.0.1'] } })
    const response = await client.get(`${dev.ready.apiUrl}/api/market/ETH`)
    expect(response.status).toBe(200)
    expect(response.receipt).toMatchObject({ amount: 1000n, status: 'settled' })
  })

  it('wrapFetch(fetch, { wallet }) pays it too', async () => {
    const paidFetch = wrapFetch(fetch, { wallet: dev.ready.buyerPrivateKey, budget: { maxPerRequest: 0.05 } })
    const response = await paidFetch(`${dev.ready.apiUrl}/api/market/BTC`)
    expect(response.status).toBe(200)
    expect(paidFetch.receipts).toHaveLength(1)
  })

  it('without a running 402x dev, the refusal says what the client pays, without contradiction', async () => {
    process.env.X402_STATE_DIR = join(dev.dir, 'elsewhere')
    try {
      const client = createX402Client({ wallet: dev.ready.buyerPrivateKey })
      const error = await client.get(`${dev.ready.apiUrl}/api/market/ETH`).catch((e: Error) => e)
      expect(String(error)).toContain(`it asks for exact ${dev.ready.asset} on eip155:31337`)
      expect(String(error)).toContain('only while `402x dev` runs in this folder')
      expect(String(error)).not.toMatch(/USDC on [^;]*eip155:31337/)
    } finally {
      process.env.X402_STATE_DIR = join(dev.dir, '.402x')
    }
  })

  it('a wallet that is not set is a clear invalid_config, not a TypeError', () => {
    const unset = process.env.AGENT_KEY_THAT_IS_NOT_SET
    expect(() => createX402Client({ wallet: unset as unknown as string })).toThrow(/wallet is not set/)
    expect(() => wrapFetch(fetch, { wallet: { privateKey: unset as unknown as string } })).toThrow(/wallet is not set/)
    expect(() => createX402Client({ wallet: '0x1234' })).toThrow(/0x-prefixed 32-byte private key/)
  })
})
