import { createPayment, transferDigest } from '@402x/core'
import { parseSignature } from 'viem'
import { describe, expect, it } from 'vitest'
import { fiatTokenAbi } from './deployUsdc.js'
import { startDevchain } from './startDevchain.js'

describe('startDevchain', () => {
  it('runs the real USDC contract with funded buyers, and stops anvil', async () => {
    const chain = await startDevchain({ buyers: 2 })
    try {
      const read = (functionName: string, args: unknown[] = []) =>
        chain.publicClient.readContract({ address: chain.usdc, abi: fiatTokenAbi, functionName, args })
      expect(await read('name')).toBe('USD Coin')
      expect(await read('symbol')).toBe('USDC')
      expect(await read('decimals')).toBe(6)
      expect(await read('version')).toBe('2')
      expect(chain.buyers).toHaveLength(2)
      expect(await chain.balanceOf(chain.buyers[0]!.address)).toBe(1_000_000_000n)

      // Our digest equals the token's own DOMAIN_SEPARATOR-based digest: a transfer signed
      // with it goes through on chain.
      const requirements = {
        scheme: 'exact',
        network: chain.network,
        amount: '10000',
        asset: chain.usdc,
        payTo: chain.payTo.address,
        maxTimeoutSeconds: 60,
        extra: chain.eip712,
      }
      const buyer = chain.buyers[0]!
      const payment = createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements })
      const { authorization: a, signature } = payment.payload as {
        authorization: {
          from: `0x${string}`
          to: `0x${string}`
          value: string
          validAfter: string
          validBefore: string
          nonce: `0x${string}`
        }
        signature: `0x${string}`
      }
      expect(transferDigest({ ...chain.eip712, chainId: 31337, verifyingContract: chain.usdc }, a)).toHaveLength(32)
      const { v, r, s } = parseSignature(signature)
      const { request } = await chain.publicClient.simulateContract({
        account: chain.facilitator.address,
        address: chain.usdc,
        abi: fiatTokenAbi,
        functionName: 'transferWithAuthorization',
        args: [a.from, a.to, BigInt(a.value), BigInt(a.validAfter), BigInt(a.validBefore), a.nonce, Number(v), r, s],
      })
      expect(request.functionName).toBe('transferWithAuthorization')
    } finally {
      await chain.stop()
    }
    // anvil is gone once stop() resolves.
    await expect(fetch(chain.rpcUrl, { method: 'POST', body: '{}' })).rejects.toThrow()
  })

  it('funds extra gas wallets with ETH, on keys of the dev mnemonic', async () => {
    const chain = await startDevchain({ buyers: 0, gasWallets: 3 })
    try {
      expect(chain.gasWallets[0]).toEqual(chain.facilitator)
      expect(chain.gasWallets).toHaveLength(3)
      expect(new Set(chain.gasWallets.map((w) => w.address)).size).toBe(3)
      for (const wallet of chain.gasWallets) {
        expect(await chain.publicClient.getBalance({ address: wallet.address })).toBeGreaterThanOrEqual(10n ** 21n)
      }
      // The same addresses every time: 402x dev prints stable gas wallets.
      expect(chain.gasWallets[1]?.address).toBe('0xBcd4042DE499D14e55001CcbB24a551F3b954096')
    } finally {
      await chain.stop()
    }
  })
})
