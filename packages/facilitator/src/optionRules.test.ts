import { describe, expect, it } from 'vitest'
import { createFacilitator } from './createFacilitator.js'
import { createFacilitatorClient } from './createFacilitatorClient.js'
import { createFacilitatorServer } from './createFacilitatorServer.js'

const key = `0x${'11'.repeat(32)}` as const
const chains = [{ network: 'eip155:84532', rpcUrl: 'http://127.0.0.1:9' }]

describe('the facilitator checks its options strictly', () => {
  it('an unknown key stops it, naming the nearest known one', () => {
    expect(() => createFacilitator({ chains, privateKeys: [key], receiptTimeout: 1 } as never)).toThrow(
      'createFacilitator(): `receiptTimeout` is not an option: did you mean `receiptTimeoutMs`?',
    )
    expect(() =>
      createFacilitator({ chains: [{ network: 'eip155:84532', rpc: 'x' }], privateKeys: [key] } as never),
    ).toThrow('`chains[0].rpc` is not an option')
  })

  it('a misspelt apiKey stops the server rather than leaving it open', () => {
    const facilitator = createFacilitator({ chains, privateKeys: [key] })
    try {
      expect(() => createFacilitatorServer({ facilitator, apikey: 'secret' } as never)).toThrow(
        'createFacilitatorServer(): `apikey` is not an option: did you mean `apiKey`?',
      )
    } finally {
      facilitator.close()
    }
  })

  it('the client too, and wrong kinds say what to pass', () => {
    expect(() => createFacilitatorClient({ url: 'http://x', timeout: 5 } as never)).toThrow('did you mean `timeoutMs`?')
    expect(() => createFacilitatorClient({ url: 'http://x', timeoutMs: '5' } as never)).toThrow(
      '`timeoutMs` is "5": give a number of milliseconds',
    )
  })
})
