import { createPayment, type PaymentRequirements, registerNetwork } from '@402x/core'
import { type Devchain, startDevchain } from '@402x/devchain'
import type { Hex } from 'viem'
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFacilitator } from './createFacilitator.js'

let chain: Devchain
let requirements: PaymentRequirements

beforeAll(async () => {
  chain = await startDevchain({ buyers: 6, gasWallets: 3 })
  registerNetwork(chain.networkEntry)
  requirements = {
    scheme: 'exact',
    network: chain.network,
    amount: '10000',
    asset: chain.usdc,
    payTo: chain.payTo.address,
    maxTimeoutSeconds: 60,
    extra: { ...chain.eip712 },
  }
})
afterAll(async () => {
  await chain?.stop()
})

const rpc = async (method: string, params: unknown[] = []) => {
  const res = await fetch(chain.rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(10_000),
  })
  const body = (await res.json()) as { result?: unknown; error?: { message: string } }
  if (body.error) throw new Error(`${method}: ${body.error.message}`)
  return body.result
}
const nonceOf = async (address: string) => Number(await rpc('eth_getTransactionCount', [address, 'latest']))
const facilitatorWith = (
  gasWallets: Hex[],
  options: { outOfGasPauseMs?: number; receiptTimeoutMs?: number; stuckAfterMs?: number } = {},
) => createFacilitator({ chains: [{ network: chain.network, rpcUrl: chain.rpcUrl }], gasWallets, ...options })
const pay = (i: number, amount = requirements.amount) => {
  const buyer = chain.buyers[i % chain.buyers.length]!
  return createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements: { ...requirements, amount } })
}

describe('a pool of gas wallets', () => {
  it('settles 60 concurrent payments over 3 wallets, each wallet on consecutive nonces, USDC moved as settled', async () => {
    const facilitator = facilitatorWith(chain.gasWallets.map((w) => w.privateKey))
    try {
      const wallets = chain.gasWallets.map((w) => w.address.toLowerCase())
      expect(facilitator.signers.map((s) => s.toLowerCase())).toEqual(wallets)
      const noncesBefore = await Promise.all(wallets.map(nonceOf))
      const paidBefore = await chain.balanceOf(chain.payTo.address)
      // Amounts differ per payment, so the total checks each one was moved once.
      const amounts = Array.from({ length: 60 }, (_, i) => String(10_000 + i))
      const payments = amounts.map((amount, i) => ({ payment: pay(i, amount), amount }))
      const results = await Promise.all(
        payments.map(({ payment, amount }) => facilitator.settle(payment, { ...requirements, amount })),
      )
      expect(results.filter((r) => !r.success)).toEqual([])

      const txs = (await Promise.all(results.map((r) => rpc('eth_getTransactionByHash', [r.transaction])))) as {
        from: string
        nonce: Hex
      }[]
      for (const [w, wallet] of wallets.entries()) {
        const nonces = txs
          .filter((tx) => tx.from.toLowerCase() === wallet)
          .map((tx) => Number(tx.nonce))
          .sort((a, b) => a - b)
        // Every wallet took a share, on nonces with no gap and no repeat, and nothing else.
        expect(nonces.length).toBeGreaterThan(5)
        const start = noncesBefore[w] as number
        expect(nonces).toEqual(nonces.map((_, k) => start + k))
        expect(await nonceOf(wallet)).toBe(start + nonces.length)
      }
      expect(new Set(results.map((r) => r.transaction)).size).toBe(60)
      const settled = amounts.reduce((n, a) => n + BigInt(a), 0n)
      expect(await chain.balanceOf(chain.payTo.address)).toBe(paidBefore + settled)
      expect(facilitator.gasWallets().map((w) => w.inFlight)).toEqual([0, 0, 0])
    } finally {
      facilitator.close()
    }
  })

  it('takes a wallet with no ETH for gas out of rotation: its settlements go to the funded one', async () => {
    const empty = generatePrivateKey()
    const funded = chain.gasWallets[1]!
    const facilitator = facilitatorWith([empty, funded.privateKey])
    try {
      const paidBefore = await chain.balanceOf(chain.payTo.address)
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => facilitator.settle(pay(i), requirements)))
      expect(results.filter((r) => !r.success)).toEqual([])
      expect(await chain.balanceOf(chain.payTo.address)).toBe(paidBefore + 8n * 10_000n)
      const [dry, wet] = facilitator.gasWallets()
      expect(dry).toMatchObject({ address: privateKeyToAddress(empty), inFlight: 0 })
      expect(dry?.outOfGas?.message).toMatch(new RegExp(`gas wallet ${privateKeyToAddress(empty)} has too little ETH`))
      expect(wet?.outOfGas).toBeUndefined()
      expect(await nonceOf(privateKeyToAddress(empty))).toBe(0)
    } finally {
      facilitator.close()
    }
  })

  it('fails a settlement with a clear reason when no wallet can pay for gas, and settles it once one is funded', async () => {
    const empty = generatePrivateKey()
    const address = privateKeyToAddress(empty)
    const facilitator = facilitatorWith([empty], { outOfGasPauseMs: 0 })
    try {
      const payment = pay(3)
      const buyer = chain.buyers[3]!.address
      const before = await chain.balanceOf(buyer)
      const refused = await facilitator.settle(payment, requirements)
      expect(refused).toMatchObject({ success: false, errorReason: 'settlement_failed', transaction: '' })
      expect(refused.errorMessage).toContain('no gas wallet can pay for gas')
      expect(refused.errorMessage).toContain(`Fund ${address} with ETH`)
      expect(refused.errorMessage).toContain('nothing was charged')
      expect(await chain.balanceOf(buyer)).toBe(before)

      // Funded since: back in rotation, and the same authorization (unused) settles.
      await chain.fundGas(address)
      const settled = await facilitator.settle(payment, requirements)
      expect(settled).toMatchObject({ success: true })
      expect(await chain.balanceOf(buyer)).toBe(before - 10_000n)
      expect(facilitator.gasWallets()[0]?.outOfGas).toBeUndefined()
    } finally {
      facilitator.close()
    }
  })

  it('reconciles a settlement sent by any wallet of the pool from another instance with other wallets', async () => {
    const [a, b, c] = chain.gasWallets
    const first = facilitatorWith([a!.privateKey, b!.privateKey])
    const second = facilitatorWith([c!.privateKey])
    try {
      const payments = [pay(0), pay(1), pay(2)]
      const results = await Promise.all(payments.map((p) => first.settle(p, requirements)))
      for (const [i, result] of results.entries()) {
        expect(result.success).toBe(true)
        const request = { paymentPayload: payments[i]!, paymentRequirements: requirements }
        expect(await second.reconcile(request)).toEqual({ state: 'settled', transaction: result.transaction })
      }
    } finally {
      first.close()
      second.close()
    }
  })

  it('gives the nonce of a dropped transaction back to its wallet: the next settlements leave no gap', async () => {
    const [a, b] = chain.gasWallets
    const facilitator = facilitatorWith([a!.privateKey, b!.privateKey], { receiptTimeoutMs: 3_000, stuckAfterMs: 0 })
    const wallets = [a!.address, b!.address]
    try {
      const before = await Promise.all(wallets.map(nonceOf))
      await rpc('evm_setAutomine', [false])
      const dropped = facilitator.settle(pay(4), requirements)
      // Once the node holds it unmined, it is dropped from the pool: it can never be mined.
      const deadline = Date.now() + 2_500
      while (Number(((await rpc('txpool_status')) as { pending: Hex }).pending) === 0) {
        if (Date.now() > deadline) throw new Error('the settlement never reached the pool')
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      await rpc('anvil_dropAllTransactions')
      await rpc('evm_setAutomine', [true])
      expect(await dropped).toMatchObject({ success: false, errorReason: 'settlement_failed' })
      expect((await dropped).errorMessage).toMatch(/was dropped by the node; nothing was charged/)

      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => facilitator.settle(pay(i), requirements)))
      expect(results.filter((r) => !r.success)).toEqual([])
      const txs = (await Promise.all(results.map((r) => rpc('eth_getTransactionByHash', [r.transaction])))) as {
        from: string
        nonce: Hex
      }[]
      for (const [w, wallet] of wallets.entries()) {
        const nonces = txs
          .filter((tx) => tx.from.toLowerCase() === wallet.toLowerCase())
          .map((tx) => Number(tx.nonce))
          .sort((x, y) => x - y)
        expect(nonces).toEqual(nonces.map((_, k) => (before[w] as number) + k))
      }
    } finally {
      await rpc('evm_setAutomine', [true])
      facilitator.close()
    }
  })
})
