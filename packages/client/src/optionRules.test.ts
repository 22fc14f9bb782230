import { describe, expect, it } from 'vitest'
import { createX402Client } from './createX402Client.js'
import { wrapFetch } from './wrapFetch.js'

const wallet = `0x${'11'.repeat(32)}`

describe('the client checks its options strictly', () => {
  it('a misspelt budget limit stops it, naming the nearest known one (it would spend unbounded)', () => {
    expect(() => createX402Client({ wallet, budget: { maxPerRequst: 0.05 } } as never)).toThrow(
      'createX402Client(): `budget.maxPerRequst` is not an option: did you mean `maxPerRequest`?',
    )
    expect(() => wrapFetch(fetch, { wallet, budjet: { maxTotal: 1 } } as never)).toThrow(
      'wrapFetch(): `budjet` is not an option: did you mean `budget`?',
    )
  })

  it('a value of the wrong kind says what to pass', () => {
    expect(() => createX402Client({ wallet, budget: { allowedHosts: 'api.example.com' } } as never)).toThrow(
      '`budget.allowedHosts` is "api.example.com": give an array of hosts',
    )
    expect(() => createX402Client({ wallet, credits: { topUp: 1, tokenz: {} } } as never)).toThrow(
      '`credits.tokenz` is not an option: did you mean `tokens`?',
    )
  })

  it('every declared option is accepted', () => {
    expect(() =>
      createX402Client({
        wallet: { privateKey: wallet },
        fetch,
        budget: { maxPerRequest: 0.05, maxTotal: '5', maxPerHost: 1, maxPerDay: 2, allowedHosts: [], allowedPayTo: [] },
        allowedAssets: [{ network: 'eip155:84532', asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e' }],
        onReceipt: () => {},
        signIn: false,
        credits: { topUp: 1, when: 0.05, tokens: {}, onToken: () => {} },
      }),
    ).not.toThrow()
  })
})
