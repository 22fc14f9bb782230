import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest'
import type { Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions } from '../paywall/types.js'
import { rateLimit } from './rateLimit.js'
import { withX402 } from './withX402.js'

// The fetch adapter counts callers by the address its runtime hands the handler: Bun's server
// (`requestIP`), Deno's `info` (`remoteAddr`), Cloudflare's `cf-connecting-ip` on Workers, or
// the seller's `ip`. Without one it says so, once. Real `Request`s through the real adapter;
// the second argument is what Bun and Deno pass.
const dir = mkdtempSync(join(tmpdir(), '402x-fetch-address-'))
const made: Paywall[] = []
afterAll(async () => {
  for (const paywall of made) await paywall.close()
  rmSync(dir, { recursive: true, force: true })
})

/** A real paywall on Base settings: its facilitator is never called (no request here pays). */
function guarded<Rest extends unknown[]>(options: Record<string, unknown>) {
  const handler = withX402<Rest>(
    {
      payTo: '0x1111111111111111111111111111111111111111',
      network: 'eip155:8453',
      facilitator: 'http://127.0.0.1:9',
      ledger: join(dir, `ledger-${made.length}.db`),
      reconcileIntervalMs: 0,
      ...options,
    } as PaywallOptions,
    () => Response.json({ ok: true }),
  )
  made.push(handler.paywall)
  return handler
}

const request = (headers: Record<string, string> = {}) => new Request('http://api.test/generate', { headers })
/** What `Bun.serve({ fetch(request, server) })` passes: the server, whose `requestIP` knows the socket. */
const bun = (address: string) => ({ requestIP: (_: Request) => ({ address, family: 'IPv4', port: 50_000 }) })
/** What `Deno.serve((request, info) => …)` passes. */
const deno = (hostname: string) => ({ remoteAddr: { transport: 'tcp', hostname, port: 50_000 } })
/** A Request as Cloudflare Workers hand it over: with `cf`, which no client can send. */
const onWorkers = (address: string) =>
  Object.assign(request({ 'cf-connecting-ip': address }), { cf: { colo: 'AMS', country: 'NL' } })

// Every 402 counts: the limit is reached without paying.
const counted = { maxRequests: 2, windowMs: 60_000, countRejected: true }

let warn: MockInstance<typeof console.warn>
beforeEach(() => {
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
})
afterEach(() => warn.mockRestore())
const warnings = () => warn.mock.calls.map((call) => String(call[0])).filter((m) => m.includes('by IP'))

describe('withX402 (fetch) counts each caller by its own address', () => {
  it("on Bun, by server.requestIP(): one caller's limit leaves another's alone", async () => {
    const fetch = guarded<[ReturnType<typeof bun>]>({ price: 0.01, rateLimit: counted })
    const a = async () => (await fetch(request(), bun('203.0.113.1'))).status
    const b = async () => (await fetch(request(), bun('203.0.113.2'))).status
    expect([await a(), await a(), await a(), await b()]).toEqual([402, 402, 429, 402])
    expect(warnings()).toEqual([])
  })

  it('on Deno, by info.remoteAddr.hostname (IPv6 by its /64, as everywhere)', async () => {
    const fetch = guarded<[ReturnType<typeof deno>]>({ price: 0.01, rateLimit: counted })
    const statuses = []
    for (const host of ['2001:db8:1:1::1', '2001:db8:1:1::2', '2001:db8:1:1::3', '2001:db8:2:1::1'])
      statuses.push((await fetch(request(), deno(host))).status)
    expect(statuses).toEqual([402, 402, 429, 402])
  })

  it('on Cloudflare Workers, by cf-connecting-ip; elsewhere that header is not trusted', async () => {
    const fetch = guarded({ price: 0.01, rateLimit: counted })
    const statuses = []
    for (const address of ['198.51.100.1', '198.51.100.1', '198.51.100.1', '198.51.100.2'])
      statuses.push((await fetch(onWorkers(address))).status)
    expect(statuses).toEqual([402, 402, 429, 402])
    expect(warnings()).toEqual([])
    // The same header without `request.cf` is the caller's to write: it counts for nothing.
    const spoofed = guarded({ price: 0.01, rateLimit: counted })
    const forged = []
    for (const address of ['1.1.1.1', '2.2.2.2', '3.3.3.3']) {
      forged.push((await spoofed(request({ 'cf-connecting-ip': address }))).status)
    }
    expect(forged).toEqual([402, 402, 429])
  })

  it('by the `ip` option, given the handler arguments, over what the runtime passes', async () => {
    const seen: unknown[] = []
    const fetch = guarded<[{ tag: string }]>({
      price: 0.01,
      rateLimit: counted,
      ip: (request: Request, extra: { tag: string }) => {
        seen.push(extra.tag)
        return request.headers.get('fly-client-ip') ?? undefined
      },
    })
    const a = async () => (await fetch(request({ 'fly-client-ip': '192.0.2.1' }), { tag: 'x' })).status
    const b = async () => (await fetch(request({ 'fly-client-ip': '192.0.2.2' }), { tag: 'x' })).status
    expect([await a(), await a(), await a(), await b()]).toEqual([402, 402, 429, 402])
    expect(seen).toEqual(['x', 'x', 'x', 'x'])
  })

  it('a free tier by IP gives each caller its own free requests', async () => {
    const fetch = guarded<[ReturnType<typeof bun>]>({ price: 0.01, free: { requests: 1, windowMs: 60_000 } })
    const a = async () => (await fetch(request(), bun('203.0.113.1'))).status
    const b = async () => (await fetch(request(), bun('203.0.113.2'))).status
    expect([await a(), await a(), await b()]).toEqual([200, 402, 200])
  })

  it('an `ip` that is not a function, or a misspelt one, stops start-up', () => {
    expect(() => guarded({ price: 0.01, ip: '203.0.113.1' })).toThrow('`ip` is "203.0.113.1": give a function')
    expect(() => guarded({ price: 0.01, ipp: () => undefined })).toThrow('did you mean `ip`?')
  })
})

describe('without an address (fetch)', () => {
  it('a limit by IP still holds, one count for all, and the paywall says so once, naming the fix', async () => {
    const fetch = guarded({ price: 0.01, rateLimit: counted })
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await fetch(request())).status)
    expect(statuses).toEqual([402, 402, 429, 429])
    expect(warnings()).toHaveLength(1)
    expect(warnings()[0]).toContain('GET http://api.test/generate: a rate limit counts callers by IP')
    expect(warnings()[0]).toContain('`ip: (request) => address`')
    expect(warnings()[0]).toContain('`by`')
  })

  it('a free tier by IP gives none, and says so once', async () => {
    const fetch = guarded({ price: 0.01, free: { requests: 5, windowMs: 60_000 } })
    expect([(await fetch(request())).status, (await fetch(request())).status]).toEqual([402, 402])
    expect(warnings()).toHaveLength(1)
    expect(warnings()[0]).toContain('a free tier counts callers by IP')
  })

  it('a limit counted by a function of the request needs no address, and warns of nothing', async () => {
    const fetch = guarded({
      price: 0.01,
      rateLimit: { ...counted, by: (req: Request) => req.headers.get('x-tenant') ?? undefined },
    })
    expect((await fetch(request({ 'x-tenant': 'a' }))).status).toBe(402)
    expect(warnings()).toEqual([])
  })
})

describe('rateLimit (fetch)', () => {
  const ok = () => Response.json({ ok: true })

  it("counts Bun's and Deno's callers apart", async () => {
    const bunLimited = rateLimit<[ReturnType<typeof bun>]>({ maxRequests: 1, windowMs: 60_000 }, ok)
    const onBun = [bun('203.0.113.1'), bun('203.0.113.1'), bun('203.0.113.2')]
    const bunStatuses = []
    for (const server of onBun) bunStatuses.push((await bunLimited(request(), server)).status)
    expect(bunStatuses).toEqual([200, 429, 200])

    const denoLimited = rateLimit<[ReturnType<typeof deno>]>({ maxRequests: 1, windowMs: 60_000 }, ok)
    const onDeno = [deno('203.0.113.1'), deno('203.0.113.1'), deno('203.0.113.2')]
    const denoStatuses = []
    for (const info of onDeno) denoStatuses.push((await denoLimited(request(), info)).status)
    expect(denoStatuses).toEqual([200, 429, 200])
    expect(warnings()).toEqual([])
  })

  it('takes `ip` on a limit (once, with several), and refuses two different ones', async () => {
    const ip = (request: Request) => request.headers.get('x-client') ?? undefined
    const limited = rateLimit(
      [
        { maxRequests: 1, windowMs: 60_000, ip },
        { maxRequests: 10, windowMs: 60_000 },
      ],
      ok,
    )
    const statuses = []
    for (const client of ['a', 'a', 'b']) statuses.push((await limited(request({ 'x-client': client }))).status)
    expect(statuses).toEqual([200, 429, 200])
    expect(() =>
      rateLimit(
        [
          { maxRequests: 1, windowMs: 60_000, ip },
          { maxRequests: 1, windowMs: 60_000, ip: () => undefined },
        ],
        ok,
      ),
    ).toThrow('the limits give different `ip`')
  })

  it('without an address: one count for all, and one warning', async () => {
    const limited = rateLimit({ maxRequests: 1, windowMs: 60_000 }, ok)
    expect([(await limited(request())).status, (await limited(request())).status]).toEqual([200, 429])
    expect(warnings()).toHaveLength(1)
    expect(warnings()[0]).toContain('rateLimit() (fetch): a rate limit counts callers by IP')
  })
})
