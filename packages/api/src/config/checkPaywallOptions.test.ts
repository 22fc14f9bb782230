import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createPaywall, type Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions } from '../paywall/types.js'
import { readConfigFile } from './resolveConfig.js'

const dir = mkdtempSync(join(tmpdir(), '402x-options-'))
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
    ledger: join(dir, `ledger-${made.length}.db`),
    reconcileIntervalMs: 0,
    ...options,
  } as PaywallOptions)
  made.push(paywall)
  return paywall
}
const start = (options: Record<string, unknown>) => () => make(options)

describe('paywall options are checked strictly', () => {
  it('an unknown key stops start-up, with the nearest known one when close', () => {
    expect(start({ price: 0.01, rateLimt: {} })).toThrow(
      'x402Middleware(): `rateLimt` is not an option: did you mean `rateLimit`?',
    )
    expect(start({ price: 0.01, bogusOption: 1 })).toThrow(
      /`bogusOption` is not an option; the known ones here are payTo/,
    )
    expect(start({ pricePerTokens: 0.001 })).toThrow('did you mean `pricePerToken`?')
  })

  it('per route, and in every nested object a seller writes', () => {
    expect(start({ routes: { 'GET /a': { price: 0.01, descripton: 'x' } } })).toThrow(
      '`routes["GET /a"].descripton` is not an option: did you mean `description`?',
    )
    expect(start({ price: 0.01, credits: { topUp: { minimum: 1 } } })).toThrow(
      '`credits.topUp.minimum` is not an option',
    )
    expect(start({ price: 0.01, credits: { refnd: 'onchain' } })).toThrow('did you mean `refund`?')
    expect(start({ price: 0.01, discovery: { openApiPath: '/x' } })).toThrow(
      '`discovery.openApiPath` is not an option: did you mean `openapiPath`?',
    )
    expect(start({ price: 0.01, free: { request: 3 } })).toThrow(
      '`free.request` is not an option: did you mean `requests`?',
    )
    expect(start({ price: 0.01, accepts: [{ network: 'eip155:84532', payto: '0x' }] })).toThrow(
      '`accepts[0].payto` is not an option: did you mean `payTo`?',
    )
  })

  it('a value of the wrong kind says what to pass', () => {
    expect(start({ price: 0.01, maxTimeoutSeconds: '60' })).toThrow(
      '`maxTimeoutSeconds` is "60": give a whole number of seconds',
    )
    expect(start({ price: 0.01, free: { requests: '100' } })).toThrow('`free.requests` is "100": give a whole number')
    expect(start({ price: 0.01, credits: true })).toThrow('`credits` is true: give an object, or false')
    expect(start({ routes: { 'GET /a': true } })).toThrow('`routes["GET /a"]` is true: give a price in dollars')
    expect(start({ price: 0.01, onPayment: 'log' })).toThrow('`onPayment` is "log": give a function')
  })

  it('a route option next to a routes table would apply to no route: refused', () => {
    expect(start({ validate: () => {}, routes: { 'GET /a': 0.01 } })).toThrow(
      /validate next to routes would be ignored: give it in the route/,
    )
  })

  it('rateLimit is taken on the middleware, on a route and beside a routes table', () => {
    expect(start({ price: 0.01, rateLimit: { maxRequests: 3, windowMs: 60000 } })).not.toThrow()
    expect(start({ routes: { 'GET /a': { price: 0.01, rateLimit: { maxRequests: 3 } } } })).not.toThrow()
    expect(
      start({ routes: { 'GET /a': 0.01 }, rateLimit: [{ maxRequests: 3 }, { maxRequests: 100, windowMs: 3_600_000 }] }),
    ).not.toThrow()
    expect(
      start({ price: 0.01, rateLimit: { algorithm: 'token-bucket', capacity: 10, refillPerSecond: 2 } }),
    ).not.toThrow()
  })

  it('a rateLimit that cannot mean what it says stops start-up, naming the field', () => {
    expect(start({ price: 0.01, rateLimit: { windowMs: 60000 } })).toThrow(
      'x402Middleware() rateLimit: maxRequests is undefined: give a whole number of requests per window ≥ 1, e.g. 100',
    )
    expect(start({ price: 0.01, rateLimit: { maxRequests: 0 } })).toThrow('`rateLimit.maxRequests` is 0')
    expect(start({ price: 0.01, rateLimit: { maxRequests: 5, capacity: 3 } })).toThrow(
      'a token bucket takes `capacity` and `refillPerSecond`, not `maxRequests`/`windowMs`: give one kind',
    )
    expect(start({ price: 0.01, rateLimit: { algorithm: 'fixed-window', maxRequests: 5, capacity: 3 } })).toThrow(
      "`capacity` and `refillPerSecond` are a token bucket's",
    )
    expect(start({ price: 0.01, rateLimit: { algorithm: 'token-bucket', capacity: 3 } })).toThrow(
      'refillPerSecond is undefined: give the tokens added per second, above 0, e.g. 5',
    )
    expect(start({ price: 0.01, rateLimit: { maxRequest: 5 } })).toThrow('did you mean `maxRequests`?')
    expect(start({ price: 0.01, rateLimit: { maxRequests: 5, store: 'http://redis' } })).toThrow(
      'store "http://redis" is not a redis:// URL',
    )
    expect(start({ price: 0.01, rateLimit: { maxRequests: 5, ipv6Subnet: 200 } })).toThrow('ipv6Subnet is 200')
    expect(start({ routes: { 'GET /a': { price: 0.01, rateLimit: { maxRequests: 5, by: 'wallet' } } } })).toThrow(
      "`routes[\"GET /a\"].rateLimit.by` is \"wallet\": give 'ip', 'key', 'token', 'payer' or (req) => id",
    )
  })

  it('verifyNonce: true is accepted; false cannot turn replay protection off', () => {
    expect(start({ price: 0.01, verifyNonce: true })).not.toThrow()
    expect(start({ price: 0.01, verifyNonce: false })).toThrow(
      '`verifyNonce` is false: give true, or leave it out: replays are always refused',
    )
  })

  it('nonceExpiry (ms) sets the quoted maxTimeoutSeconds; out of bounds or another unit is refused', () => {
    expect(make({ price: 0.01, nonceExpiry: 120_000 }).config.routes[0]?.maxTimeoutSeconds).toBe(120)
    expect(
      make({ routes: { 'GET /a': { price: 0.01, nonceExpiry: 30_000 } } }).config.routes[0]?.maxTimeoutSeconds,
    ).toBe(30)
    expect(make({ price: 0.01 }).config.routes[0]?.maxTimeoutSeconds).toBe(60)
    // 60 would be 60 ms: the seed's unit is milliseconds (`nonceExpiry: 60000 // 1 minute`).
    expect(start({ price: 0.01, nonceExpiry: 60 })).toThrow(
      /`nonceExpiry` is 60: give a number of milliseconds, .*validBefore ≥ now \+ 6 s.* e\.g\. 60000 for a minute/,
    )
    expect(start({ price: 0.01, nonceExpiry: 90_000_000 })).toThrow('`nonceExpiry` is 90000000')
    expect(start({ price: 0.01, nonceExpiry: 1500 })).toThrow('`nonceExpiry` is 1500')
    expect(start({ price: 0.01, nonceExpiry: 60_000, maxTimeoutSeconds: 30 })).toThrow(
      'nonceExpiry (60000 ms) and maxTimeoutSeconds (30 s) disagree: give one of them',
    )
  })

  it('every option the type declares is accepted where it is valid', () => {
    expect(
      start({
        price: 0.01,
        description: 'd',
        mimeType: 'text/plain',
        maxTimeoutSeconds: 60,
        nonceExpiry: 60_000,
        verifyNonce: true,
        validate: () => {},
        skip: () => false,
        free: { requests: 2, windowMs: 1000, by: 'key', keyHeader: 'x-key' },
        errors: 'next',
        discovery: { openapiPath: false, manifestPath: '/m', title: 't', version: '1' },
        credits: { topUp: { min: 0.01, max: 10, suggested: 1 }, refund: 'credit', reservationTtlMs: 1000 },
        onPayment: () => {},
        locks: { acquire: async () => true, release: async () => {} },
        accepts: [{ network: 'eip155:84532' }],
      }),
    ).not.toThrow()
  })
})

describe('402x.config.json', () => {
  const file = (json: unknown) => {
    const folder = mkdtempSync(join(dir, 'cfg-'))
    writeFileSync(join(folder, '402x.config.json'), JSON.stringify(json))
    return () => readConfigFile(folder)
  }

  it('an unknown key names the file and the key, with the nearest known one', () => {
    expect(file({ payto: '0x' })).toThrow(/402x\.config\.json: `payto` is not an option: did you mean `payTo`\?/)
    expect(file({ rateLimit: 1 })).toThrow(/402x\.config\.json: `rateLimit` is not an option; the known ones here are/)
  })

  it('a value that is not a string names the key', () => {
    expect(file({ network: 8453 })).toThrow(/402x\.config\.json: "network" must be a string/)
  })

  it('databaseUrl and redisUrl are read (the stores they choose: stores/pickBackends.test.ts)', () => {
    expect(file({ databaseUrl: 'postgres://db/app', redisUrl: 'redis://127.0.0.1:6379' })()).toEqual({
      databaseUrl: 'postgres://db/app',
      redisUrl: 'redis://127.0.0.1:6379',
    })
    expect(file({ publicUrl: 'https://api.example.com' })()).toEqual({ publicUrl: 'https://api.example.com' })
  })

  it('the known keys are read', () => {
    expect(file({ $schema: 'x', payTo: '0x1', facilitatorUrl: 'http://f' })()).toMatchObject({ payTo: '0x1' })
  })
})
