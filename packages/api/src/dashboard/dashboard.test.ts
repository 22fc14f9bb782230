import { afterAll, describe, expect, it } from 'vitest'
import { adminPaywalls } from '../admin/adminTestPaywalls.js'
import type { Paywall } from '../paywall/createPaywall.js'

const paywalls = adminPaywalls()
afterAll(() => paywalls.close())
const token = 'dashboard-admin-token'

/** Sends one request through the paywall as an adapter does; the answer as it would go out. */
async function send(
  paywall: Paywall,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
  ip = '127.0.0.1',
) {
  const request = new Request(`http://127.0.0.1:4021${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const decision = await paywall.handle(request, undefined, { ip })
  if (decision.type !== 'respond') throw new Error(`expected an answer, got ${decision.type}`)
  return decision.response
}

/** Waits (bounded) until `check` holds. */
async function until(check: () => Promise<boolean>) {
  for (let i = 0; i < 100; i++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error('timed out')
}

describe('dashboard sign-in', () => {
  it('signs in from the link: the session cookie is set, the token leaves the address, reads only', async () => {
    const paywall = paywalls.make({ network: 'eip155:8453', adminToken: token })
    const link = await send(paywall, 'GET', `/__402x/dashboard/login?token=${token}`)
    expect(link.status).toBe(303)
    expect(link.headers.get('location')).toBe('/__402x/dashboard/')
    const cookie = link.headers.get('set-cookie') as string
    expect(cookie).toMatch(/^x402_admin=[\w-]+; Path=\/__402x; HttpOnly; SameSite=Strict; Max-Age=\d+$/)
    expect(cookie).not.toContain(token)
    const session = cookie.split(';')[0] as string
    const stats = await send(paywall, 'GET', '/__402x/admin/stats?range=hour', { cookie: session })
    expect(stats.status).toBe(200)
    // A cross-site form could carry the cookie: it never opens a change.
    const post = await send(paywall, 'POST', '/__402x/admin/keys', { cookie: session }, { name: 'x', plan: 'free' })
    expect(post.status).toBe(401)
    expect(await post.json()).toMatchObject({ error: 'invalid_admin_token' })
    const elsewhere = { cookie: session, origin: 'https://evil.example' }
    expect((await send(paywall, 'POST', '/__402x/admin/keys', elsewhere, { name: 'x', plan: 'free' })).status).toBe(401)
    // From the dashboard's own page (its Origin is this API's): a write such as a replay is let in.
    const own = { cookie: session, origin: 'http://127.0.0.1:4021' }
    expect((await send(paywall, 'POST', '/__402x/admin/keys', own, { name: 'x', plan: 'free' })).status).toBe(201)
    const forged = { cookie: 'x402_admin=forged', origin: 'http://127.0.0.1:4021' }
    expect((await send(paywall, 'POST', '/__402x/admin/keys', forged, { name: 'y', plan: 'free' })).status).toBe(401)
    expect((await send(paywall, 'GET', '/__402x/admin/stats', { cookie: 'x402_admin=forged' })).status).toBe(401)
  })

  it('refuses a wrong token: the link lands on the form, the form answers 401; the right one 204', async () => {
    const paywall = paywalls.make({ network: 'eip155:8453', adminToken: token })
    const link = await send(paywall, 'GET', '/__402x/dashboard/login?token=wrong')
    expect(link.status).toBe(303)
    expect(link.headers.get('location')).toBe('/__402x/dashboard/?signin=failed')
    expect(link.headers.get('set-cookie')).toBeNull()
    const wrong = await send(paywall, 'POST', '/__402x/dashboard/login', {}, { token: 'wrong' })
    expect(wrong.status).toBe(401)
    expect(await wrong.json()).toMatchObject({ error: 'invalid_admin_token' })
    const right = await send(paywall, 'POST', '/__402x/dashboard/login', {}, { token })
    expect(right.status).toBe(204)
    expect(right.headers.get('set-cookie')).toMatch(/^x402_admin=/)
    const out = await send(paywall, 'POST', '/__402x/dashboard/logout')
    expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/)
  })
})

describe('dashboard files', () => {
  it('serves the built app from the package: types, caching, no other host, unknown files 404', async () => {
    const paywall = paywalls.make({ network: 'eip155:8453', adminToken: token })
    const page = await send(paywall, 'GET', '/__402x/dashboard')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(page.headers.get('cache-control')).toBe('no-cache')
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'")
    const html = await page.text()
    expect(html).not.toMatch(/(src|href)="https?:/)
    const script = /src="(\/__402x\/dashboard\/assets\/[^"]+\.js)"/.exec(html)?.[1] as string
    const asset = await send(paywall, 'GET', script)
    expect(asset.status).toBe(200)
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    const again = await send(paywall, 'GET', script, { 'if-none-match': asset.headers.get('etag') as string })
    expect(again.status).toBe(304)
    // A page of the app is its shell; a file that is none is 404, whatever its spelling.
    expect((await send(paywall, 'GET', '/__402x/dashboard/users')).status).toBe(200)
    expect((await send(paywall, 'GET', '/__402x/dashboard/nope.js')).status).toBe(404)
    expect((await send(paywall, 'GET', '/__402x/dashboard/assets/..%2f..%2fpackage.json')).status).toBe(404)
    expect((await send(paywall, 'DELETE', '/__402x/dashboard/')).status).toBe(405)
  })
})

describe('admin stats and live', () => {
  it('answers 400 invalid_range for a range it does not know', async () => {
    const paywall = paywalls.make({ network: 'eip155:8453', adminToken: token })
    const answer = await send(paywall, 'GET', '/__402x/admin/stats?range=week', { authorization: `Bearer ${token}` })
    expect(answer.status).toBe(400)
    expect(await answer.json()).toMatchObject({ error: 'invalid_range', message: expect.stringMatching(/range=day/) })
  })

  it('counts the requests the paywall answers, and streams each one live', async () => {
    const paywall = paywalls.make({ network: 'eip155:8453', adminToken: token })
    const auth = { authorization: `Bearer ${token}` }
    const live = await send(paywall, 'GET', '/__402x/admin/live', auth)
    expect(live.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const reader = (live.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let seen = ''
    try {
      expect((await send(paywall, 'GET', '/api/data')).status).toBe(402)
      while (!seen.includes('event: request')) {
        const { value, done } = await reader.read()
        if (done) break
        seen += decoder.decode(value)
      }
      const data = JSON.parse(/event: request\ndata: (.*)\n/.exec(seen)?.[1] as string)
      expect(data).toMatchObject({ route: 'GET /api/data', status: 402, outcome: 'refused', amount: '0' })
    } finally {
      await reader.cancel()
    }
    // The admin API itself is never counted; the dashboard's page never is either.
    await send(paywall, 'GET', '/__402x/dashboard')
    // biome-ignore lint/suspicious/noExplicitAny: a JSON answer, read by the assertions below
    let stats: any = {}
    await until(async () => {
      stats = await (await send(paywall, 'GET', '/__402x/admin/stats?range=day', auth)).json()
      return stats.totals.requests === 1
    })
    expect(stats).toMatchObject({
      range: 'day',
      totals: { requests: 1, refused: 1, paid: 0, revenue: '0' },
      byOutcome: { '402': 1 },
      byRoute: [{ route: 'GET /api/data', requests: 1, revenue: '0' }],
      countries: [{ country: 'local', requests: 1 }],
      settlements: { settled: 0, pending: 0, failed: 0, recent: [] },
    })
    expect(stats.series).toHaveLength(96)
  })
})

describe('admin stats: routes named by their path', () => {
  it('count at most 200 paths apart, the rest as other; a routes table is never folded', async () => {
    const auth = { authorization: `Bearer ${token}` }
    // A per-route paywall (it guards whatever it is mounted on): the framework gives no route
    // pattern here, so the figures are keyed by the path, which each caller chooses.
    const perRoute = paywalls.make({
      network: 'eip155:8453',
      adminToken: token,
      price: 0.01,
      routes: undefined as never,
    })
    const live = await send(perRoute, 'GET', '/__402x/admin/live', auth)
    const reader = (live.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let seen = ''
    try {
      for (let i = 0; i < 250; i++) expect((await send(perRoute, 'GET', `/random-${i}`)).status).toBe(402)
      // Another paywall of the same app (the same ledger), with a routes table, after the flood.
      const ledgerAt = perRoute.config.ledgerAt as { path: string }
      const table = paywalls.make({ network: 'eip155:8453', adminToken: token, ledger: ledgerAt.path })
      expect((await send(table, 'GET', '/api/data')).status).toBe(402)
      while (!seen.includes('"path":"/api/data"')) {
        const { value, done } = await reader.read()
        if (done) break
        seen += decoder.decode(value)
      }
    } finally {
      await reader.cancel()
    }
    const routesLive = [...seen.matchAll(/"route":"([^"]+)"/g)].map((m) => m[1])
    expect(routesLive.filter((r) => r === 'other')).toHaveLength(50)
    expect(routesLive).toContain('GET /api/data')
    // biome-ignore lint/suspicious/noExplicitAny: a JSON answer, read by the assertions below
    let stats: any = {}
    await until(async () => {
      stats = await (await send(perRoute, 'GET', '/__402x/admin/stats?range=hour', auth)).json()
      return stats.totals.requests === 251
    })
    const byRoute = new Map(stats.byRoute.map((r: { route: string; requests: number }) => [r.route, r.requests]))
    expect(byRoute.size).toBe(202)
    expect(byRoute.get('other')).toBe(50)
    expect(byRoute.get('/random-0')).toBe(1)
    expect(byRoute.get('/random-249')).toBeUndefined()
    expect(byRoute.get('GET /api/data')).toBe(1)
  })
})

describe('failed sign-ins are limited per address', () => {
  it('the 11th failure in 15 minutes answers 429 rate_limited with Retry-After, the right token too; others still sign in', async () => {
    const paywall = paywalls.make({ network: 'eip155:8453', adminToken: token })
    const ip = '198.51.100.11'
    // A right sign-in between the failures is not one of them.
    expect((await send(paywall, 'POST', '/__402x/dashboard/login', {}, { token }, ip)).status).toBe(204)
    for (let i = 0; i < 10; i++) {
      const wrong = await send(paywall, 'POST', '/__402x/dashboard/login', {}, { token: `guess-${i}` }, ip)
      expect(wrong.status).toBe(401)
    }
    const limited = await send(paywall, 'POST', '/__402x/dashboard/login', {}, { token }, ip)
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(limited.headers.get('set-cookie')).toBeNull()
    expect(await limited.json()).toMatchObject({
      error: 'rate_limited',
      reason: 'rate_limited',
      message: expect.stringMatching(/too many failed sign-ins/),
    })
    // The link sign-in and a bearer token sent to the admin API count the same way.
    const link = await send(paywall, 'GET', `/__402x/dashboard/login?token=${token}`, {}, undefined, ip)
    expect(link.status).toBe(429)
    const admin = await send(paywall, 'GET', '/__402x/admin/stats', { authorization: `Bearer ${token}` }, undefined, ip)
    expect(admin.status).toBe(429)
    // Another address (an IPv6 one, counted by its /64) is not held back.
    expect((await send(paywall, 'POST', '/__402x/dashboard/login', {}, { token }, '2001:db8:5::1')).status).toBe(204)
  })

  it('counts forged session cookies (an HMAC of a guessed token) as failures', async () => {
    const paywall = paywalls.make({ network: 'eip155:8453', adminToken: token })
    const ip = '198.51.100.13'
    for (let i = 0; i < 10; i++) {
      const guess = await send(
        paywall,
        'GET',
        '/__402x/admin/stats',
        { cookie: `x402_admin=guess-${i}` },
        undefined,
        ip,
      )
      expect(guess.status).toBe(401)
    }
    const limited = await send(
      paywall,
      'GET',
      '/__402x/admin/stats',
      { authorization: `Bearer ${token}` },
      undefined,
      ip,
    )
    expect(limited.status).toBe(429)
  })

  it('counts wrong bearer tokens sent to the admin API, and the link sign-in, as failures', async () => {
    const paywall = paywalls.make({ network: 'eip155:8453', adminToken: token })
    const ip = '198.51.100.12'
    const stats = (bearer: string) =>
      send(paywall, 'GET', '/__402x/admin/stats', { authorization: `Bearer ${bearer}` }, undefined, ip)
    const link = (given: string) => send(paywall, 'GET', `/__402x/dashboard/login?token=${given}`, {}, undefined, ip)
    for (let i = 0; i < 5; i++) {
      expect((await stats(`no-${i}`)).status).toBe(401)
      if (i < 4) expect((await link(`no-${i}`)).headers.get('location')).toBe('/__402x/dashboard/?signin=failed')
    }
    // Nine failures: a right token is still let in, and does not count.
    expect((await stats(token)).status).toBe(200)
    expect((await link('no-9')).status).toBe(303)
    const refused = await link(token)
    expect(refused.status).toBe(429)
    expect(await refused.json()).toMatchObject({ error: 'rate_limited' })
  })
})

describe('the session cookie is Secure over https', () => {
  it('with publicUrl https://…: a TLS-terminating proxy in front, whatever the adapter', async () => {
    const paywall = paywalls.make({ network: 'eip155:8453', adminToken: token, publicUrl: 'https://api.example.com' })
    const login = await send(paywall, 'POST', '/__402x/dashboard/login', {}, { token }, '198.51.100.13')
    expect(login.headers.get('set-cookie')).toMatch(/; Secure$/)
    const link = await send(paywall, 'GET', `/__402x/dashboard/login?token=${token}`, {}, undefined, '198.51.100.13')
    expect(link.headers.get('set-cookie')).toMatch(/; Secure$/)
    const out = await send(paywall, 'POST', '/__402x/dashboard/logout')
    expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0; Secure$/)
    // Over plain http it is not (a browser would then never send it back).
    const plain = paywalls.make({ network: 'eip155:8453', adminToken: token })
    const http = await send(plain, 'POST', '/__402x/dashboard/login', {}, { token }, '198.51.100.13')
    expect(http.headers.get('set-cookie')).not.toMatch(/Secure/)
  })
})

describe('dashboard on the local chain (402x dev)', () => {
  it('needs the token from this machine too when one is set: a page in a local browser cannot call the admin API', async () => {
    const paywall = paywalls.make({ network: 'eip155:31337', adminToken: token })
    const bare = await send(paywall, 'GET', '/__402x/admin/stats')
    expect(bare.status).toBe(401)
    expect(await bare.json()).toMatchObject({
      error: 'invalid_admin_token',
      message: expect.stringMatching(/402x dev/),
    })
    // What a page of another site in this machine's browser would send: refused, and nothing made.
    const forged = await send(
      paywall,
      'POST',
      '/__402x/admin/keys',
      { origin: 'http://evil.localhost:8000' },
      { name: 'csrf', plan: 'free' },
    )
    expect(forged.status).toBe(401)
    expect((await paywall.keys?.list())?.map((k) => k.name)).toEqual([])
    // The sign-in form without a token signs nobody in.
    expect((await send(paywall, 'POST', '/__402x/dashboard/login', {}, {})).status).toBe(401)
    expect((await send(paywall, 'GET', '/__402x/admin/stats', { authorization: `Bearer ${token}` })).status).toBe(200)
    expect((await send(paywall, 'GET', '/__402x/admin/stats', { authorization: 'Bearer wrong' })).status).toBe(401)
    const remote = await paywall.handle(new Request('http://127.0.0.1:4021/__402x/admin/stats'), undefined, {
      ip: '192.168.1.20',
    })
    expect(remote.type === 'respond' && remote.response.status).toBe(401)
  })
})
