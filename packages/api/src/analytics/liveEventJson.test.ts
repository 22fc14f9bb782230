import { formatMoney } from '@402x/core'
import { describe, expect, it } from 'vitest'
import { liveEventJson } from './liveEventJson.js'

// The live stream's serializer must write exactly what JSON.stringify writes (the dashboard
// parses it), bigints as dollar strings: compared on the paywall's events and on the odd values.
const reference = (value: unknown, decimals: number) =>
  JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? formatMoney(v, decimals) : v))

const request = {
  requestId: '5b0c8f3e-8d6a-4c2e-9f1a-2b3c4d5e6f70',
  at: 1_765_000_000_000,
  durationMs: 1.234_567,
  method: 'GET',
  route: 'GET /api/data',
  path: '/api/data',
  status: 200,
  outcome: 'credit',
  amount: 10_000n,
  network: 'eip155:31337',
  asset: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
  price: '0.01',
  account: 'acct_1',
  ip: '::ffff:127.0.0.1',
}

describe('liveEventJson', () => {
  it('writes a request event as JSON.stringify does, the amount in dollars', () => {
    expect(liveEventJson(request, 6)).toBe(reference(request, 6))
    expect(JSON.parse(liveEventJson(request, 6)).amount).toBe('0.01')
    expect(liveEventJson({ ...request, amount: -1_500_000n }, 6)).toBe(
      reference({ ...request, amount: -1_500_000n }, 6),
    )
    expect(liveEventJson({ ...request, amount: 123n }, 18)).toBe(reference({ ...request, amount: 123n }, 18))
  })

  it('escapes what JSON escapes: quotes, backslashes, control characters, lone surrogates, long text', () => {
    const odd = {
      path: '/a"b\\c\n\t\u0001',
      route: 'GET /caf\u00e9/\u{1f600}',
      lone: '\ud800x',
      long: 'y'.repeat(300),
      'key "quoted"': 1,
      empty: '',
    }
    expect(liveEventJson(odd, 6)).toBe(reference(odd, 6))
  })

  it('leaves out what JSON leaves out and writes null where JSON does', () => {
    const value = {
      a: undefined,
      b: () => 1,
      c: Symbol('s'),
      d: Number.NaN,
      e: Number.POSITIVE_INFINITY,
      f: -0,
      g: true,
      h: false,
      i: null,
    }
    expect(liveEventJson(value, 6)).toBe(reference(value, 6))
    expect(liveEventJson({}, 6)).toBe('{}')
  })

  it('hands nested values, arrays and toJSON to JSON.stringify, bigints inside them formatted', () => {
    const value = { receipt: { captured: 5n, list: [1n, 'x'] }, at: new Date(0), tags: ['a', 2] }
    expect(liveEventJson(value, 6)).toBe(reference(value, 6))
    expect(liveEventJson([1n, { a: 2n }], 6)).toBe(reference([1n, { a: 2n }], 6))
    expect(liveEventJson(new Date(0), 6)).toBe(reference(new Date(0), 6))
    expect(liveEventJson(7, 6)).toBe('7')
    expect(liveEventJson('text', 6)).toBe('"text"')
    expect(liveEventJson(null, 6)).toBe('null')
  })
})
