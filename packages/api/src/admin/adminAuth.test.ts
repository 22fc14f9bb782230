import { afterAll, describe, expect, it } from 'vitest'
import { adminPaywalls, call } from './adminTestPaywalls.js'

const paywalls = adminPaywalls()
afterAll(() => paywalls.close())

describe('admin API auth', () => {
  it('is off on Base without a token: 403 admin_disabled, saying to set X402_ADMIN_TOKEN', async () => {
    const paywall = paywalls.make({ network: 'eip155:8453' })
    const answer = await call(paywall, 'GET', '/__402x/admin/keys')
    expect(answer.status).toBe(403)
    expect(answer.json).toMatchObject({ error: 'admin_disabled', reason: 'admin_disabled' })
    expect(answer.json.message).toMatch(/X402_ADMIN_TOKEN/)
  })

  it('takes the right token only: 401 invalid_admin_token without or with a wrong one', async () => {
    const paywall = paywalls.make({ network: 'eip155:8453', adminToken: 'secret-admin-token' })
    const none = await call(paywall, 'GET', '/__402x/admin/keys')
    expect(none.status).toBe(401)
    expect(none.json).toMatchObject({ error: 'invalid_admin_token' })
    expect(none.headers.get('www-authenticate')).toBe('Bearer')
    const wrong = await call(paywall, 'GET', '/__402x/admin/keys', { token: 'secret-admin-tokeN' })
    expect(wrong.status).toBe(401)
    expect(wrong.json).toMatchObject({ error: 'invalid_admin_token' })
    const short = await call(paywall, 'GET', '/__402x/admin/keys', { token: 's' })
    expect(short.status).toBe(401)
    const right = await call(paywall, 'GET', '/__402x/admin/keys', { token: 'secret-admin-token' })
    expect(right.status).toBe(200)
    expect(right.json).toEqual({ keys: [] })
  })

  it('reads the token from X402_ADMIN_TOKEN when no option gives it', async () => {
    process.env.X402_ADMIN_TOKEN = 'from-the-environment'
    try {
      const paywall = paywalls.make({ network: 'eip155:8453' })
      expect((await call(paywall, 'GET', '/__402x/admin/plans', { token: 'from-the-environment' })).status).toBe(200)
      expect((await call(paywall, 'GET', '/__402x/admin/plans', { token: 'other' })).status).toBe(401)
    } finally {
      delete process.env.X402_ADMIN_TOKEN
    }
  })

  it('is open to loopback callers only on the local chain without a token', async () => {
    const paywall = paywalls.make({ network: 'eip155:31337' })
    for (const ip of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      expect((await call(paywall, 'GET', '/__402x/admin/keys', { ip })).status).toBe(200)
    }
    const remote = await call(paywall, 'GET', '/__402x/admin/keys', { ip: '203.0.113.9' })
    expect(remote.status).toBe(403)
    expect(remote.json).toMatchObject({ error: 'admin_disabled' })
    expect(remote.json.message).toMatch(/X402_ADMIN_TOKEN/)
    // A page of another site in this machine's browser: refused, nothing made.
    const forged = await call(paywall, 'POST', '/__402x/admin/keys', {
      body: { name: 'csrf', plan: 'free' },
      headers: { origin: 'http://evil.example' },
    })
    expect(forged.status).toBe(403)
    expect(forged.json).toMatchObject({ error: 'cross_origin_refused' })
    expect((await call(paywall, 'GET', '/__402x/admin/keys')).json).toEqual({ keys: [] })
    // Its own page, or a shell (no Origin), is let in.
    const own = await call(paywall, 'POST', '/__402x/admin/keys', {
      body: { name: 'own', plan: 'free' },
      headers: { origin: 'http://127.0.0.1:4021' },
    })
    expect(own.status).toBe(201)
    // DNS rebinding: another site's name pointed at 127.0.0.1 makes its page "same-origin".
    const rebound = await paywall.handle(
      new Request('http://evil.test:4021/__402x/admin/keys', {
        method: 'POST',
        headers: { origin: 'http://evil.test:4021', 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'rebound', plan: 'free' }),
      }),
      undefined,
      { ip: '127.0.0.1' },
    )
    expect(rebound.type).toBe('respond')
    if (rebound.type !== 'respond') return
    expect(rebound.response.status).toBe(403)
    expect(await rebound.response.json()).toMatchObject({ error: 'cross_origin_refused' })
    expect(
      ((await call(paywall, 'GET', '/__402x/admin/keys')).json.keys as { name: string }[]).map((k) => k.name),
    ).toEqual(['own'])
  })

  it('refuses a token that is not a string, by the option rules', () => {
    expect(() => paywalls.make({ network: 'eip155:8453', adminToken: 42 as never })).toThrow(/adminToken/)
  })

  it('is served by a paywall without keys too, which hands the key and plan endpoints on', async () => {
    const paywall = paywalls.make({ network: 'eip155:8453', adminToken: 't', keys: undefined as never })
    // Routed as any other path: free here (no route prices it), so handed on to the app's
    // paywall with keys, whichever is mounted first (adminExpress.test.ts: a priced one is priced).
    expect(paywall.match('GET', '/__402x/admin/keys')).toBeUndefined()
    expect((await call(paywall, 'GET', '/__402x/admin/keys', { token: 't' })).type).toBe('skip')
    expect((await call(paywall, 'PUT', '/__402x/admin/plans/pro', { token: 't' })).type).toBe('skip')
    expect((await call(paywall, 'GET', '/__402x/admin/keysmith', { token: 't' })).status).toBe(404)
    expect((await call(paywall, 'GET', '/__402x/admin/openapi.json')).status).toBe(401)
    expect((await call(paywall, 'GET', '/__402x/admin/openapi.json', { token: 't' })).status).toBe(200)
  })

  it('answers 404 not_found for an unknown admin path and 405 with Allow for a wrong method', async () => {
    const paywall = paywalls.make({ network: 'eip155:8453', adminToken: 't' })
    const unknown = await call(paywall, 'GET', '/__402x/admin/nothing', { token: 't' })
    expect(unknown.status).toBe(404)
    expect(unknown.json).toMatchObject({ error: 'not_found', reason: 'not_found' })
    const wrong = await call(paywall, 'PATCH', '/__402x/admin/keys', { token: 't' })
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('GET, POST, HEAD')
    // Auth comes first: an unknown path tells nothing to a caller without the token.
    expect((await call(paywall, 'GET', '/__402x/admin/nothing')).status).toBe(401)
  })
})
