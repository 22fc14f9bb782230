import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NextRequest } from 'next/server.js'
import { afterAll, afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest'
import { rateLimit } from './rateLimit.js'
import { withX402 } from './withX402.js'
import { x402NextMiddleware } from './x402NextMiddleware.js'

// The Next.js adapter counts callers by `request.ip` (Next 14), else by the X-Forwarded-For
// entry the proxy in front appended (the rightmost by default), never the leftmost one a
// caller writes itself; without an address it says so, once.
const dir = mkdtempSync(join(tmpdir(), '402x-next-address-'))
let ledgers = 0
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Base settings: the facilitator is never called (no request here pays). */
const settings = () => ({
  payTo: '0x1111111111111111111111111111111111111111',
  network: 'eip155:8453',
  facilitator: 'http://127.0.0.1:9',
  ledger: join(dir, `ledger-${++ledgers}.db`),
  reconcileIntervalMs: 0,
})
const ok = () => Response.json({ ok: true })
/** A request as it reaches Next behind a proxy that appends the address it saw. */
const via = (forwardedFor?: string) =>
  new NextRequest('http://app.test/api/generate', forwardedFor ? { headers: { 'x-forwarded-for': forwardedFor } } : {})
// Every 402 counts: the limit is reached without paying.
const counted = { maxRequests: 2, windowMs: 60_000, countRejected: true }

let warn: MockInstance<typeof console.warn>
beforeEach(() => {
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
})
afterEach(() => warn.mockRestore())
const warnings = () => warn.mock.calls.map((call) => String(call[0])).filter((m) => m.includes('by IP'))

const statuses = async (handler: (request: NextRequest) => Response | Promise<Response>, requests: NextRequest[]) => {
  const out = []
  for (const request of requests) out.push((await handler(request)).status)
  return out
}

describe('withX402 (Next.js)', () => {
  it('counts two callers apart, by the entry the proxy appended', async () => {
    const POST = withX402({ ...settings(), price: 0.01, rateLimit: counted }, ok)
    expect(await statuses(POST, [via('203.0.113.1'), via('203.0.113.1'), via('203.0.113.1')])).toEqual([402, 402, 429])
    expect(await statuses(POST, [via('203.0.113.2')])).toEqual([402])
    expect(warnings()).toEqual([])
  })

  it('a caller that writes its own X-Forwarded-For entries gains nothing', async () => {
    const POST = withX402({ ...settings(), price: 0.01, rateLimit: counted }, ok)
    const forged = ['1.1.1.1', '2.2.2.2', '3.3.3.3', '4.4.4.4'].map((own) => via(`${own}, 203.0.113.9`))
    expect(await statuses(POST, forged)).toEqual([402, 402, 429, 429])
    // Another caller, behind the same proxy, is not locked out by the first.
    expect(await statuses(POST, [via('1.1.1.1, 203.0.113.10')])).toEqual([402])
  })

  it('trustedHops: 2 reads the entry the outer of two proxies appended', async () => {
    const POST = withX402({ ...settings(), price: 0.01, rateLimit: counted, trustedHops: 2 }, ok)
    const one = ['9.9.9.1', '9.9.9.2', '9.9.9.3'].map((own) => via(`${own}, 203.0.113.5, 10.0.0.2`))
    expect(await statuses(POST, one)).toEqual([402, 402, 429])
    expect(await statuses(POST, [via('9.9.9.1, 203.0.113.6, 10.0.0.2')])).toEqual([402])
  })

  it("uses Next 14's request.ip where the platform sets it", async () => {
    const POST = withX402({ ...settings(), price: 0.01, rateLimit: counted }, ok)
    const withIp = (ip: string) => Object.assign(via('6.6.6.6'), { ip })
    const requests = [withIp('203.0.113.1'), withIp('203.0.113.1'), withIp('203.0.113.1'), withIp('203.0.113.2')]
    expect(await statuses(POST, requests)).toEqual([402, 402, 429, 402])
  })

  it('uses the `ip` option; `ip` with `trustedHops` stops start-up', async () => {
    const ip = (request: NextRequest) => request.headers.get('cf-connecting-ip') ?? undefined
    const POST = withX402({ ...settings(), price: 0.01, rateLimit: counted, ip }, ok)
    const from = (address: string) =>
      new NextRequest('http://app.test/api/generate', { headers: { 'cf-connecting-ip': address } })
    expect(await statuses(POST, [from('a::1'), from('a::1'), from('a::1'), from('b::1')])).toEqual([402, 402, 429, 402])
    expect(() => withX402({ ...settings(), price: 0.01, ip, trustedHops: 1 } as never, ok)).toThrow(
      'give `ip` or `trustedHops`, not both',
    )
    expect(() => withX402({ ...settings(), price: 0.01, trustedHops: -1 }, ok)).toThrow('`trustedHops` is -1')
  })

  it('without an address: one count for all, and one warning naming the fix', async () => {
    const POST = withX402({ ...settings(), price: 0.01, rateLimit: counted, trustedHops: 0 }, ok)
    expect(await statuses(POST, [via('203.0.113.1'), via('203.0.113.2'), via('203.0.113.3')])).toEqual([402, 402, 429])
    expect(warnings()).toHaveLength(1)
    expect(warnings()[0]).toContain('`trustedHops` on Next.js')
  })
})

describe('x402NextMiddleware', () => {
  it('counts the unpaid requests it answers by the same address', async () => {
    const proxy = x402NextMiddleware({
      ...settings(),
      routes: { 'GET /api/generate': { price: 0.01, rateLimit: counted } },
    })
    const forged = ['1.1.1.1', '2.2.2.2', '3.3.3.3'].map((own) => via(`${own}, 203.0.113.9`))
    expect(await statuses(proxy, forged)).toEqual([402, 402, 429])
    expect(await statuses(proxy, [via('203.0.113.10')])).toEqual([402])
  })
})

describe('rateLimit (Next.js)', () => {
  it('counts the rightmost X-Forwarded-For entry: rotating the leftmost one does not help', async () => {
    const GET = rateLimit({ maxRequests: 2, windowMs: 60_000 }, ok)
    const forged = ['1.1.1.1', '2.2.2.2', '3.3.3.3'].map((own) => via(`${own}, 203.0.113.9`))
    expect(await statuses(GET, forged)).toEqual([200, 200, 429])
    expect(await statuses(GET, [via('203.0.113.10')])).toEqual([200])
  })

  it('takes trustedHops or ip on a limit', async () => {
    const GET = rateLimit({ maxRequests: 1, windowMs: 60_000, trustedHops: 2 }, ok)
    expect(await statuses(GET, [via('7.7.7.7, 203.0.113.1, 10.0.0.2'), via('8.8.8.8, 203.0.113.1, 10.0.0.2')])).toEqual(
      [200, 429],
    )
    expect(() => rateLimit({ maxRequests: 1, windowMs: 60_000, trustedHops: 'all' } as never, ok)).toThrow(
      '`trustedHops` is "all"',
    )
  })

  it('without an address: one count for all, and one warning', async () => {
    const GET = rateLimit({ maxRequests: 1, windowMs: 60_000 }, ok)
    expect(await statuses(GET, [via(), via()])).toEqual([200, 429])
    expect(warnings()).toHaveLength(1)
    expect(warnings()[0]).toContain('rateLimit() (Next.js): a rate limit counts callers by IP')
  })
})
