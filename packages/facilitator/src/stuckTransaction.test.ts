import { createPayment, type PaymentRequirements, registerNetwork } from '@402x/core'
import { type Devchain, startDevchain } from '@402x/devchain'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFacilitator } from './createFacilitator.js'

// A settlement the node files as waiting for a nonce the chain has already passed (anvil's
// send/mine race, foundry-rs/foundry#10122; a node that lost track of the account's nonce):
// it is known, never mined, and every later transaction of the wallet queues behind it.
let chain: Devchain
let requirements: PaymentRequirements
const rpc = async (method: string, params: unknown[] = []) => {
  const res = await fetch(chain.rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  const body = (await res.json()) as { result?: unknown; error?: { message: string } }
  if (body.error) throw new Error(`${method}: ${body.error.message}`)
  return body.result
}
const nonceOf = async (address: string, tag = 'latest') => Number(await rpc('eth_getTransactionCount', [address, tag]))
const setNonce = (address: string, nonce: number) => rpc('anvil_setNonce', [address, `0x${nonce.toString(16)}`])

beforeAll(async () => {
  chain = await startDevchain({ buyers: 2 })
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

const facilitatorWith = (
  options: { receiptTimeoutMs: number; stuckAfterMs: number },
  key = chain.facilitator.privateKey,
) => createFacilitator({ chains: [{ network: chain.network, rpcUrl: chain.rpcUrl }], privateKeys: [key], ...options })

/** The hashes of the transactions from `address` that the node holds as ready. */
const pooledFrom = async (address: string) => {
  const content = (await rpc('txpool_content')) as { pending: Record<string, Record<string, { hash: string }>> }
  const entry = Object.entries(content.pending).find(([from]) => from.toLowerCase() === address.toLowerCase())
  return Object.values(entry?.[1] ?? {}).map((tx) => tx.hash)
}

const pay = (buyer = chain.buyers[0]!) =>
  createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements })

describe('a settlement stuck in the node pool', () => {
  it('is sent again at its nonce with higher fees, and settles once', async () => {
    const facilitator = facilitatorWith({ receiptTimeoutMs: 8_000, stuckAfterMs: 500 })
    const wallet = chain.facilitator.address
    const first = await facilitator.settle(pay(), requirements)
    expect(first.success).toBe(true)
    const k = (await nonceOf(wallet)) - 1
    // The node forgets that nonce k was used: the wallet's next transaction (k + 1) is queued
    // behind a gap. Then it learns it again, without looking at the queue: the state the race
    // leaves, where k + 1 waits for a k that will never come.
    await setNonce(wallet, k)
    const buyer = chain.buyers[1]!
    const before = await chain.balanceOf(chain.payTo.address)
    const settling = facilitator.settle(pay(buyer), requirements)
    for (let i = 0; i < 200; i++) {
      const pool = (await rpc('txpool_status')) as { queued: string }
      if (Number(pool.queued) === 1) break
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await setNonce(wallet, k + 1)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await nonceOf(wallet)).toBe(k + 1)
    expect(await nonceOf(wallet, 'pending')).toBe(k + 1) // still queued, not ready

    const settled = await settling
    expect(settled).toMatchObject({ success: true, payer: buyer.address })
    const receipt = (await rpc('eth_getTransactionReceipt', [settled.transaction])) as { status: string } | null
    expect(receipt?.status).toBe('0x1')
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before + 10000n)
    expect(await nonceOf(wallet)).toBe(k + 2)

    // The wallet goes on from there.
    const after = await facilitator.settle(pay(), requirements)
    expect(after.success).toBe(true)
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before + 20000n)
  })
  it('leaves alone a transaction the node holds as ready, waiting for a block', async () => {
    const facilitator = facilitatorWith({ receiptTimeoutMs: 8_000, stuckAfterMs: 200 })
    const wallet = chain.facilitator.address
    const before = await chain.balanceOf(chain.payTo.address)
    const pooled = () => pooledFrom(wallet)
    await rpc('evm_setAutomine', [false])
    try {
      const settling = facilitator.settle(pay(), requirements)
      let first: string[] = []
      for (let i = 0; i < 200 && first.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10))
        first = await pooled()
      }
      expect(first).toHaveLength(1)
      // Well past three checks: the transaction is ready (the next nonce, counted as pending),
      // so it is not sent again.
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      expect(await pooled()).toEqual(first)
      await rpc('evm_mine')
      const settled = await settling
      expect(settled).toMatchObject({ success: true, transaction: first[0] })
    } finally {
      await rpc('evm_setAutomine', [true])
    }
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before + 10000n)
  })
  it('reports as settled a dropped settlement whose authorization another transaction used', async () => {
    const facilitator = facilitatorWith({ receiptTimeoutMs: 1_500, stuckAfterMs: 0 })
    // Another facilitator (its own gas wallet) settles the same authorization.
    const other = facilitatorWith({ receiptTimeoutMs: 30_000, stuckAfterMs: 5_000 }, chain.buyers[1]!.privateKey)
    const wallet = chain.facilitator.address
    const before = await chain.balanceOf(chain.payTo.address)
    const payment = pay()
    const waitForPooled = async (address: string) => {
      for (let i = 0; i < 200; i++) {
        const found = await pooledFrom(address)
        if (found.length > 0) return found
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      throw new Error(`nothing from ${address} reached the pool`)
    }
    await rpc('evm_setAutomine', [false])
    let settling: ReturnType<typeof facilitator.settle>
    let otherSettled: Awaited<ReturnType<typeof other.settle>>
    try {
      settling = facilitator.settle(payment, requirements)
      const [ours] = await waitForPooled(wallet)
      await rpc('anvil_dropTransaction', [ours])
      const otherSettling = other.settle(payment, requirements)
      await waitForPooled(chain.buyers[1]!.address)
      await rpc('evm_mine')
      otherSettled = await otherSettling
    } finally {
      await rpc('evm_setAutomine', [true])
    }
    expect(otherSettled).toMatchObject({ success: true })
    // Ours was dropped, but the payer paid: that is a settlement, by the other transaction.
    expect(await settling).toMatchObject({ success: true, transaction: otherSettled.transaction })
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before + 10000n)
    // The dropped transaction's nonce is used again: the wallet goes on.
    const next = await facilitator.settle(pay(), requirements)
    expect(next.success).toBe(true)
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before + 20000n)
  })
})
