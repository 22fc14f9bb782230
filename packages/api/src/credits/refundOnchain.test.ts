import { X402Error } from '@402x/core'
import { type Devchain, startDevchain } from '@402x/devchain'
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOnchainRefunder } from './refundOnchain.js'

let chain: Devchain

beforeAll(async () => {
  chain = await startDevchain({ buyers: 0 })
  // The seller's wallet receives payments; on a fresh devchain it holds no USDC yet.
  await chain.mint(chain.payTo.address, 10_000_000n)
})

afterAll(async () => {
  await chain?.stop()
})

const refunder = () =>
  createOnchainRefunder({ privateKey: chain.payTo.privateKey, rpcUrl: chain.rpcUrl, asset: chain.usdc, chainId: 31337 })
const fresh = () => privateKeyToAddress(generatePrivateKey())

describe('createOnchainRefunder', () => {
  it('sends exactly the amount from the payTo wallet to the caller, on chain', async () => {
    const refunds = refunder()
    expect(refunds.address).toBe(chain.payTo.address)
    const to = fresh()
    const before = await chain.balanceOf(chain.payTo.address)
    const { transaction } = await refunds.send({ to, amount: 1234n, ref: 'payout-1' })
    expect(transaction).toMatch(/^0x[0-9a-f]{64}$/)
    expect(await chain.balanceOf(to)).toBe(1234n)
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before - 1234n)
    const receipt = await chain.publicClient.getTransactionReceipt({ hash: transaction })
    expect(receipt.status).toBe('success')
    expect(receipt.from.toLowerCase()).toBe(chain.payTo.address.toLowerCase())
  })

  it('lands 3 concurrent sends from one wallet, with consecutive nonces', async () => {
    const refunds = refunder()
    const to = [fresh(), fresh(), fresh()]
    const before = await chain.balanceOf(chain.payTo.address)
    const sent = await Promise.all(
      to.map((address, i) => refunds.send({ to: address, amount: 100n + BigInt(i), ref: `c${i}` })),
    )
    expect(new Set(sent.map((s) => s.transaction)).size).toBe(3)
    for (const [i, address] of to.entries()) expect(await chain.balanceOf(address)).toBe(100n + BigInt(i))
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before - 303n)
    const nonces = await Promise.all(
      sent.map(async (s) => (await chain.publicClient.getTransaction({ hash: s.transaction })).nonce),
    )
    expect(nonces.sort((a, b) => a - b)).toEqual([nonces[0], nonces[0]! + 1, nonces[0]! + 2])
  })

  it('refuses a transfer larger than the balance with a clear error, and moves nothing', async () => {
    const refunds = refunder()
    const to = fresh()
    const held = await chain.balanceOf(chain.payTo.address)
    const nonce = await chain.publicClient.getTransactionCount({ address: chain.payTo.address })
    const error = await refunds.send({ to, amount: held + 1n, ref: 'too-much' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(X402Error)
    expect((error as X402Error).code).toBe('chain_unavailable')
    expect((error as X402Error).retryable).toBe(false)
    expect((error as X402Error).message).toMatch(
      new RegExp(`too-much of ${held + 1n} .*not sent: ${chain.payTo.address} holds ${held}, less than ${held + 1n}`),
    )
    expect((error as X402Error).details).toMatchObject({ ref: 'too-much', amount: String(held + 1n) })
    expect(await chain.balanceOf(chain.payTo.address)).toBe(held)
    expect(await chain.balanceOf(to)).toBe(0n)
    expect(await chain.publicClient.getTransactionCount({ address: chain.payTo.address })).toBe(nonce)
    // The refunder still works after a refusal.
    await refunds.send({ to, amount: 1n, ref: 'after' })
    expect(await chain.balanceOf(to)).toBe(1n)
  })

  it('reports an unreachable RPC as a retryable chain_unavailable, and a wrong chainId as invalid_config', async () => {
    const down = createOnchainRefunder({
      privateKey: chain.payTo.privateKey,
      rpcUrl: 'http://127.0.0.1:1',
      asset: chain.usdc,
    })
    const error = await down.send({ to: fresh(), amount: 1n, ref: 'down' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(X402Error)
    expect((error as X402Error).code).toBe('chain_unavailable')
    expect((error as X402Error).retryable).toBe(true)
    expect((error as X402Error).message).toMatch(/refund down was not sent: the RPC failed/)

    const wrong = createOnchainRefunder({
      privateKey: chain.payTo.privateKey,
      rpcUrl: chain.rpcUrl,
      asset: chain.usdc,
      chainId: 8453,
    })
    const mismatch = await wrong.send({ to: fresh(), amount: 1n, ref: 'wrong' }).catch((e: unknown) => e)
    expect((mismatch as X402Error).code).toBe('invalid_config')
    expect((mismatch as X402Error).message).toMatch(/serves chain 31337, not chainId 8453/)
    await expect(refunder().send({ to: 'alice', amount: 1n, ref: 'r' })).rejects.toThrow(/to must be a 0x address/)
    await expect(refunder().send({ to: fresh(), amount: 0n, ref: 'r' })).rejects.toThrow(/positive bigint/)
  })
})
