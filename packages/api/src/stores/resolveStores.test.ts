import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions } from '../paywall/types.js'
import { createMemoryCounters } from './createMemoryCounters.js'
import { createMemoryCreditStore } from './createMemoryCreditStore.js'
import { createMemoryLocks } from './createMemoryLocks.js'
import { createMemoryPaymentLedger } from './createMemoryPaymentLedger.js'
import { resolveStores } from './resolveStores.js'
import type { Counters } from './types.js'

const dir = mkdtempSync(join(tmpdir(), '402x-stores-'))
const made: Paywall[] = []
afterAll(async () => {
  for (const paywall of made) await paywall.close()
  rmSync(dir, { recursive: true, force: true })
})

/** A real paywall on Base settings (its facilitator is never called). */
const make = (options: Record<string, unknown>) => {
  const paywall = createPaywall({
    payTo: '0x1111111111111111111111111111111111111111',
    network: 'eip155:8453',
    facilitator: 'http://127.0.0.1:9',
    reconcileIntervalMs: 0,
    ...options,
  } as PaywallOptions)
  made.push(paywall)
  return paywall
}

describe('resolveStores: the one place the stores are chosen', () => {
  it('refuses a Redis URL where the ledger or credit is meant, by name', () => {
    const refusal = /is a Redis URL: Redis holds locks and limits, not the ledger of record/
    expect(() => resolveStores({ ledger: 'redis://cache:6379' }, {})).toThrow(refusal)
    expect(() => resolveStores({ stores: { ledger: 'redis://cache:6379' } }, {})).toThrow(
      'stores.ledger is a Redis URL',
    )
    expect(() => make({ price: 0.01, stores: { credits: 'rediss://cache:6380' } })).toThrow(
      'stores.credits is a Redis URL',
    )
  })

  it('refuses the same store given twice', () => {
    const locks = createMemoryLocks()
    expect(() => resolveStores({ locks, stores: { locks } }, {})).toThrow(
      'locks and stores.locks both choose the same store: give one of them',
    )
    expect(() =>
      make({ price: 0.01, ledger: join(dir, 'a.db'), stores: { ledger: createMemoryPaymentLedger() } }),
    ).toThrow('ledger and stores.ledger both choose the same store')
  })

  it('uses the stores given, and defaults the credit store to the ledger file', async () => {
    const ledger = createMemoryPaymentLedger()
    const locks = createMemoryLocks()
    const chosen = resolveStores({ stores: { ledger, locks } }, {})
    expect(chosen.ledger).toBe(ledger)
    expect(chosen.locks).toBe(locks)
    const onFile = resolveStores({ ledger: `sqlite:${join(dir, 'l.db')}` }, {})
    expect(onFile.credits).toEqual({ path: join(dir, 'l.db') })
    await onFile.ledger.close()
  })

  it('checks the stores option strictly', () => {
    expect(() => make({ price: 0.01, stores: { lock: createMemoryLocks() } })).toThrow('did you mean `locks`?')
    expect(() => make({ price: 0.01, stores: { counters: 3 } })).toThrow(/stores\.counters/)
  })

  it('the paywall takes its stores from there: an injected credit store, and the free tier counts in the injected counters', async () => {
    const credits = createMemoryCreditStore()
    const counted: string[] = []
    const memory = createMemoryCounters()
    const counters: Counters = {
      take: (key, ...rest) => {
        counted.push(key)
        return memory.take(key, ...rest)
      },
    }
    const paywall = make({
      price: 0.01,
      free: { requests: 1, windowMs: 60_000, by: 'ip' },
      stores: { ledger: createMemoryPaymentLedger(), credits, counters },
    })
    const request = () => new Request('http://127.0.0.1/paid')
    expect((await paywall.handle(request(), undefined, { ip: '10.0.0.1' })).type).toBe('skip')
    const second = await paywall.handle(request(), undefined, { ip: '10.0.0.1' })
    expect(second.type).toBe('respond')
    expect(counted).toEqual(['free:0:ip:10.0.0.1', 'free:0:ip:10.0.0.1'])
    const granted = await paywall.credits?.grant({ amount: 0.5, ref: 'g1' })
    expect((await credits.balance(granted?.account as string)).available).toBe(500_000n)
  })
})
