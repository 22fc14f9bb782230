import type { X402Error } from '@402x/core'
import type { Hex } from 'viem'
import { describe, expect, it } from 'vitest'
import { createFacilitator } from './createFacilitator.js'

const chains = [{ network: 'eip155:84532', rpcUrl: 'http://127.0.0.1:9' }]
const keyA = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d' as Hex
const keyB = '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a' as Hex
const thrown = (run: () => unknown): X402Error => {
  try {
    run()
  } catch (error) {
    return error as X402Error
  }
  throw new Error('expected a throw')
}

describe('gas wallet keys', () => {
  it('takes them as gasWallets or as privateKeys, each wallet once, in order', () => {
    const pool = createFacilitator({ chains, gasWallets: [keyA, keyB] })
    const single = createFacilitator({ chains, privateKeys: [keyB] })
    expect(pool.signers).toEqual([
      '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
    ])
    expect(single.signers).toEqual(['0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'])
    expect(pool.gasWallets().map((w) => w.inFlight)).toEqual([0, 0])
  })

  it('refuses both options at once', () => {
    const error = thrown(() => createFacilitator({ chains, gasWallets: [keyA], privateKeys: [keyB] } as never))
    expect(error).toMatchObject({ code: 'invalid_config' })
    expect(error.message).toContain('both `gasWallets` and `privateKeys` are given')
  })

  it('refuses an empty pool', () => {
    expect(thrown(() => createFacilitator({ chains, gasWallets: [] }))).toMatchObject({
      code: 'invalid_config',
      message: expect.stringContaining('needs at least one gas wallet'),
    })
  })

  it.each([
    ['too short', `${keyA.slice(0, 60)}`],
    ['not hex', `0x${'zz'.repeat(32)}`],
    ['zero', `0x${'0'.repeat(64)}`],
    ['above the curve order', `0x${'f'.repeat(64)}`],
  ])('names the index of a bad key (%s), never the key', (_, bad) => {
    const error = thrown(() => createFacilitator({ chains, gasWallets: [keyA, keyB, bad as Hex] }))
    expect(error).toMatchObject({ code: 'invalid_config', details: { option: 'gasWallets[2]', index: 2 } })
    expect(error.message).toContain('gas wallet key 2')
    expect(error.message).not.toContain(bad.slice(2, 20))
    expect(JSON.stringify(error.details)).not.toContain(bad.slice(2, 20))
  })

  it('refuses a key given twice, naming both indexes and the wallet, never the key', () => {
    const error = thrown(() => createFacilitator({ chains, privateKeys: [keyA, keyB, keyA] }))
    expect(error).toMatchObject({ code: 'invalid_config', details: { option: 'privateKeys[2]', duplicateOf: 0 } })
    expect(error.message).toContain(
      'gas wallet keys 0 and 2 are the same key (wallet 0x70997970C51812dc3A010C7d01b50e0d17dc79C8)',
    )
    expect(error.message).not.toContain(keyA.slice(2))
  })
})
