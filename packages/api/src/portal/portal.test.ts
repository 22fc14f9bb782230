import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeHeader, type SiwxExtension, signSiwx } from '@402x/core'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, describe, expect, it } from 'vitest'
import { adminPaywalls, call } from '../admin/adminTestPaywalls.js'
import { openSession, sealSession } from './portalSession.js'
import { portalBrowser } from './portalTestPaywall.js'
import { staticFiles } from './staticFiles.js'

// The portal's API through a real paywall (SQLite ledger and keys, Base): public pages,
// sign-in by API key and by wallet (a real EIP-4361 signature), a caller's own usage,
// credit and self-service keys, and every refusal.
const paywalls = adminPaywalls()
afterAll(() => paywalls.close())
const paywall = paywalls.make({
  network: 'eip155:8453',
  adminToken: 'admin-token-for-portal-tests',
  portal: { selfServiceKeys: { plans: ['free'] } },
})

const served = async (key: string) => {
  const decision = await paywall.handle(
    new Request('http://127.0.0.1:4021/api/data', { headers: { authorization: `Bearer ${key}` } }),
    undefined,
    { ip: '127.0.0.1' },
  )
  if (decision.type !== 'proceed') throw new Error(`the key was not served: ${decision.type}`)
  await decision.finish(Response.json({ ok: true }))
}

const walletSignIn = async (browser: ReturnType<typeof portalBrowser>, privateKey = generatePrivateKey()) => {
  const account = privateKeyToAccount(privateKey)
  const challenge = (await browser.api('GET', '/siwx')).json as unknown as SiwxExtension
  const chainId = challenge.supportedChains[0]?.chainId as string
  const payload = signSiwx({ info: challenge.info, chainId, privateKey, address: account.address })
  return {
    address: account.address.toLowerCase(),
    payload,
    answer: await browser.api('POST', '/session', { siwx: encodeHeader(payload) }),
  }
}

describe('portal: public', () => {
  it('answers without the admin token: the API, its prices, the sign-in options and the self-service plans', async () => {
    const browser = portalBrowser(paywall)
    const info = await browser.api('GET', '/info')
    expect(info.status).toBe(200)
    expect(info.json).toMatchObject({ network: 'eip155:8453', signIn: { wallet: true, apiKey: true } })
    expect((info.json.selfServicePlans as { name: string }[]).map((p) => p.name)).toEqual(['free'])
    const doc = await browser.api('GET', '/openapi.json')
    expect(doc.status).toBe(200)
    const op = (doc.json.paths as Record<string, Record<string, Record<string, unknown>>>)['/api/data']?.get
    expect(op?.['x-payment-info']).toMatchObject({ price: { mode: 'fixed', currency: 'USD', amount: '0.01' } })
  })

  it('refuses what needs a session with 401 sign_in_required, and a forged or tampered cookie alike', async () => {
    const browser = portalBrowser(paywall)
    for (const path of ['/me', '/usage', '/credits', '/keys']) {
      const answer = await browser.api('GET', path)
      expect(answer.status).toBe(401)
      expect(answer.json.error).toBe('sign_in_required')
    }
    // A session sealed with another secret, and a real one with its body changed.
    browser.cookie = `__402x_portal=${sealSession(Buffer.alloc(32, 1), { kind: 'wallet', address: '0x' + '1'.repeat(40), exp: Date.now() + 60_000 })}`
    expect((await browser.api('GET', '/me')).status).toBe(401)
    const { answer } = await walletSignIn(browser)
    expect(answer.status).toBe(200)
    const [body, mac] = (browser.cookie as string).split('=')[1]!.split('.')
    const other = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), address: '0x' + '2'.repeat(40) }),
    ).toString('base64url')
    browser.cookie = `__402x_portal=${other}.${mac}`
    expect((await browser.api('GET', '/me')).json.error).toBe('sign_in_required')
  })

  it('a session expires: past its exp the cookie opens nothing', () => {
    const secret = Buffer.alloc(32, 7)
    const value = sealSession(secret, { kind: 'key', keyId: 'key_x', exp: 1_000 })
    expect(openSession(secret, `__402x_portal=${value}`, 999)).toMatchObject({ keyId: 'key_x' })
    expect(openSession(secret, `__402x_portal=${value}`, 1_000)).toBeUndefined()
  })

  it('refuses unknown endpoints (404), wrong methods (405 with Allow) and cross-site writes (403)', async () => {
    const browser = portalBrowser(paywall)
    expect((await browser.api('GET', '/nope')).json.error).toBe('not_found')
    const wrong = await browser.api('PUT', '/session')
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('POST, DELETE')
    const cross = await browser.api('POST', '/session', { apiKey: 'x' }, { origin: 'https://evil.example' })
    expect(cross.status).toBe(403)
    expect(cross.json.error).toBe('cross_origin_refused')
    const bad = await browser.api('POST', '/session', { password: 'x' })
    expect(bad.status).toBe(400)
    expect(bad.json.error).toBe('invalid_request')
  })
})

describe('portal: API-key sign-in', () => {
  it('sets a short HttpOnly, SameSite=Strict cookie on the portal path; a wrong or revoked key is refused', async () => {
    const { key, info } = await paywall.keys!.create({ name: 'alice app', plan: 'free', owner: 'alice@example.com' })
    const browser = portalBrowser(paywall)
    const signed = await browser.api('POST', '/session', { apiKey: key })
    expect(signed.status).toBe(200)
    expect(signed.json).toMatchObject({ kind: 'key', keyId: info.id })
    const cookie = signed.headers.get('set-cookie') as string
    expect(cookie).toMatch(/^__402x_portal=[^;]+; Path=\/__402x\/portal; Max-Age=3600; HttpOnly; SameSite=Strict$/)
    expect((await browser.api('GET', '/me')).json).toMatchObject({ kind: 'key', key: { id: info.id, plan: 'free' } })

    const wrong = await portalBrowser(paywall).api('POST', '/session', { apiKey: `x402_live_${'A'.repeat(32)}` })
    expect(wrong.status).toBe(401)
    expect(wrong.json.error).toBe('invalid_key')

    // Revoked after sign-in: the session ends on its next request, and its cookie is cleared.
    await paywall.keys!.revoke(info.id)
    const ended = await browser.api('GET', '/me')
    expect(ended.status).toBe(401)
    expect(ended.json.error).toBe('session_ended')
    expect(ended.headers.get('set-cookie')).toContain('Max-Age=0')
    expect((await portalBrowser(paywall).api('POST', '/session', { apiKey: key })).json.error).toBe('key_revoked')
  })

  it("shows the caller's own usage and credit only, never another caller's", async () => {
    const alice = await paywall.keys!.create({ name: 'a', plan: 'pay-as-you-go', owner: 'alice-2' })
    const bob = await paywall.keys!.create({ name: 'b', plan: 'free', owner: 'bob' })
    await paywall.keys!.grant(alice.info.id, { amount: 1, ref: 'portal-test-alice' })
    await served(alice.key)
    await served(bob.key)
    await served(bob.key)

    const browser = portalBrowser(paywall)
    await browser.api('POST', '/session', { apiKey: alice.key })
    const usage = await browser.api('GET', '/usage')
    expect(usage.status).toBe(200)
    const keys = usage.json.keys as { id: string; calls: number; amount: string }[]
    expect(keys.map((k) => k.id)).toEqual([alice.info.id])
    expect(keys[0]).toMatchObject({ calls: 1, amount: '0.01' })
    expect(usage.json).not.toHaveProperty('payments')
    expect(JSON.stringify(usage.json)).not.toContain(bob.info.id)

    const credit = await browser.api('GET', '/credits')
    expect(credit.status).toBe(200)
    expect(credit.json.balance).toEqual({ available: '0.99', reserved: '0' })
    expect((credit.json.entries as { kind: string }[]).map((e) => e.kind)).toContain('grant')
    expect(credit.json.offer).toMatchObject({ topUp: 'http://127.0.0.1:4021/__402x/credits' })

    // A credit token for the caller's own account: the credits endpoint shows the same balance.
    const issued = await browser.api('POST', '/credits/token')
    expect(issued.status).toBe(201)
    const token = issued.json.token as string
    expect(token).toMatch(/^x402c_/)
    expect((await paywall.credits!.balance(token))?.available).toBe('0.99')

    const bad = await browser.api('GET', '/usage?from=yesterday')
    expect(bad.status).toBe(400)
    expect(bad.json.error).toBe('invalid_request')
  })
})

describe('portal: what a key session minted ends with the key', () => {
  const use = (credential: string) =>
    paywall.handle(
      new Request('http://127.0.0.1:4021/api/data', { headers: { authorization: `Bearer ${credential}` } }),
      undefined,
      { ip: '127.0.0.1' },
    )
  const refusal = async (credential: string) => {
    const decision = await use(credential)
    if (decision.type !== 'respond') throw new Error(`served: ${decision.type}`)
    return { status: decision.response.status, error: ((await decision.response.json()) as { error: string }).error }
  }

  it('revoking a leaked key revokes the keys and credit tokens its portal sessions made (admin API, as the CLI)', async () => {
    // No owner: the keys its sessions create are owned by key:<id>.
    const leaked = await paywall.keys!.create({ name: 'leaked', plan: 'pay-as-you-go' })
    await paywall.keys!.grant(leaked.info.id, { amount: 1, ref: 'portal-test-leaked' })
    const browser = portalBrowser(paywall)
    expect((await browser.api('POST', '/session', { apiKey: leaked.key })).status).toBe(200)
    const minted = await browser.api('POST', '/keys', { name: 'spare', plan: 'free' })
    expect(minted.status).toBe(201)
    const mintedKey = minted.json.key as string
    const mintedId = (minted.json.info as { id: string }).id
    expect((await paywall.keys!.get(mintedId))?.owner).toBe(`key:${leaked.info.id}`)
    const token = (await browser.api('POST', '/credits/token')).json.token as string
    for (const credential of [mintedKey, token]) {
      const served = await use(credential)
      expect(served.type).toBe('proceed')
      if (served.type === 'proceed') await served.finish(Response.json({ ok: true }))
    }
    expect((await paywall.credits!.balance(token))?.available).toBe('0.99')

    const revoked = await call(paywall, 'POST', `/__402x/admin/keys/${leaked.info.id}/revoke`, {
      token: 'admin-token-for-portal-tests',
    })
    expect(revoked.status).toBe(200)
    expect(revoked.json).toMatchObject({ revoked: true, minted: [mintedId], creditTokens: 1 })

    // The minted key is refused on a priced route and at the portal's door.
    expect(await refusal(mintedKey)).toEqual({ status: 401, error: 'key_revoked' })
    expect((await paywall.keys!.get(mintedId))?.state).toBe('revoked')
    expect((await portalBrowser(paywall).api('POST', '/session', { apiKey: mintedKey })).json.error).toBe('key_revoked')
    // The token draws nothing more from the key's credit, which stays where it was.
    expect(await paywall.credits!.balance(token)).toBeUndefined()
    expect((await refusal(token)).status).not.toBe(200)
    expect(await paywall.keys!.balance(leaked.info.id)).toMatchObject({ available: '0.99' })
    // Again: nothing left to revoke.
    const again = await call(paywall, 'DELETE', `/__402x/admin/keys/${leaked.info.id}`, {
      token: 'admin-token-for-portal-tests',
    })
    expect(again.status).toBe(409)
    expect(again.json.message).toBe(`the key ${leaked.info.id} is already revoked`)
  })

  it("revokes what a key with an owner minted, and none of the owner's other keys", async () => {
    const leaked = await paywall.keys!.create({ name: 'leaked', plan: 'free', owner: 'erin' })
    const other = await paywall.keys!.create({ name: 'erin ci', plan: 'free', owner: 'erin' })
    const browser = portalBrowser(paywall)
    await browser.api('POST', '/session', { apiKey: leaked.key })
    const minted = await browser.api('POST', '/keys', { name: 'spare', plan: 'free' })
    const mintedId = (minted.json.info as { id: string }).id
    expect(await paywall.keys!.get(mintedId)).toMatchObject({
      owner: 'erin',
      metadata: { source: 'portal', mintedBy: leaked.info.id },
    })
    expect(await paywall.keys!.revokeWithMinted(leaked.info.id)).toEqual({
      revoked: true,
      minted: [mintedId],
      creditTokens: 0,
    })
    expect(await refusal(minted.json.key as string)).toEqual({ status: 401, error: 'key_revoked' })
    expect((await paywall.keys!.get(other.info.id))?.state).toBe('active')
  })
})

describe('portal: failed sign-ins are limited per address', () => {
  it('the 11th failure in 15 minutes answers 429 rate_limited, the right key too; other addresses and the admin door are not held back', async () => {
    const limited = paywalls.make({
      network: 'eip155:8453',
      adminToken: 'admin-token-for-portal-limit',
      portal: { selfServiceKeys: { plans: ['free'] } },
    })
    const { key } = await limited.keys!.create({ name: 'bob app', plan: 'free' })
    const ip = '198.51.100.21'
    const from = (address = ip) => portalBrowser(limited, 'http://127.0.0.1:4021', address)
    // A right sign-in and a malformed request are not failures.
    expect((await from().api('POST', '/session', { apiKey: key })).status).toBe(200)
    expect((await from().api('POST', '/session', { password: 'x' })).status).toBe(400)
    for (let i = 0; i < 10; i++) {
      const wrong = await from().api('POST', '/session', { apiKey: `x402_live_${String(i).repeat(32)}` })
      expect(wrong.status).toBe(401)
    }
    const refused = await from().api('POST', '/session', { apiKey: key })
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(refused.headers.get('set-cookie')).toBeNull()
    expect(refused.json).toMatchObject({
      error: 'rate_limited',
      message: expect.stringMatching(/too many failed portal sign-ins/),
    })
    // A wallet's signed message is held back too: nothing is verified past the limit.
    expect((await walletSignIn(from())).answer.status).toBe(429)
    // Another address signs in; the operator's door (the admin token) counts apart.
    expect((await from('198.51.100.22').api('POST', '/session', { apiKey: key })).status).toBe(200)
    const admin = await limited.handle(
      new Request('http://127.0.0.1:4021/__402x/admin/stats', {
        headers: { authorization: 'Bearer admin-token-for-portal-limit' },
      }),
      undefined,
      { ip },
    )
    expect(admin.type === 'respond' && admin.response.status).toBe(200)
  })
})

describe('portal: self-service keys', () => {
  it('creates keys on the allowed plans only, lists and revokes the caller’s own, and no one else’s', async () => {
    const mine = await paywall.keys!.create({ name: 'first', plan: 'free', owner: 'carol' })
    const theirs = await paywall.keys!.create({ name: 'dave', plan: 'free', owner: 'dave' })
    const browser = portalBrowser(paywall)
    await browser.api('POST', '/session', { apiKey: mine.key })

    const listed = await browser.api('GET', '/keys')
    expect((listed.json.plans as { name: string }[]).map((p) => p.name)).toEqual(['free'])
    expect((listed.json.keys as { id: string }[]).map((k) => k.id)).toEqual([mine.info.id])

    const created = await browser.api('POST', '/keys', { name: 'second', plan: 'free' })
    expect(created.status).toBe(201)
    const key = created.json.key as string
    expect(key).toMatch(/^x402_live_/)
    const id = (created.json.info as { id: string }).id
    expect((await paywall.keys!.get(id))?.owner).toBe('carol')
    await served(key)

    const refused = await browser.api('POST', '/keys', { name: 'x', plan: 'pro' })
    expect(refused.status).toBe(403)
    expect(refused.json.error).toBe('plan_not_allowed')
    expect((await browser.api('POST', '/keys', { name: '', plan: 'free' })).json.error).toBe('invalid_request')

    const ids = ((await browser.api('GET', '/keys')).json.keys as { id: string }[]).map((k) => k.id)
    expect(ids.sort()).toEqual([mine.info.id, id].sort())

    const other = await browser.api('DELETE', `/keys/${theirs.info.id}`)
    expect(other.status).toBe(404)
    expect(other.json.error).toBe('key_not_found')
    expect((await paywall.keys!.get(theirs.info.id))?.state).toBe('active')

    const revoked = await browser.api('DELETE', `/keys/${id}`)
    expect(revoked.status).toBe(200)
    expect((await paywall.keys!.get(id))?.state).toBe('revoked')
    expect((await browser.api('DELETE', `/keys/${id}`)).json.error).toBe('key_not_active')
  })

  it('creates none where the seller allows no self-service plan (403 self_service_off)', async () => {
    const closed = paywalls.make({ network: 'eip155:8453' })
    const { key } = await closed.keys!.create({ name: 'e', plan: 'free' })
    const browser = portalBrowser(closed)
    await browser.api('POST', '/session', { apiKey: key })
    const answer = await browser.api('POST', '/keys', { name: 'x', plan: 'free' })
    expect(answer.status).toBe(403)
    expect(answer.json.error).toBe('self_service_off')
  })

  it('checks the option at start-up: unknown plans, no keys, a misspelt option', () => {
    const make =
      (portal: unknown, more: Record<string, unknown> = {}) =>
      () =>
        paywalls.make({ network: 'eip155:8453', portal, ...more } as never)
    expect(make({ selfServiceKeys: { plans: ['gold'] } })).toThrow(
      /portal.selfServiceKeys.plans: there is no plan "gold"/,
    )
    expect(make({ selfServiceKeys: { plans: ['free'] } }, { keys: undefined })).toThrow(
      /self-service keys need API keys/,
    )
    expect(make({ selfServiceKey: { plans: ['free'] } })).toThrow(/selfServiceKeys/)
    expect(make({ sessionTtlMs: 10 })).toThrow(/sessionTtlMs/)
    expect(make({ sessionSecret: 'short' })).toThrow(/sessionSecret/)
  })

  it('is 402x’s own page: its requests are never told as request events (the dashboard counts the API)', async () => {
    const told: unknown[] = []
    const listener = (event: unknown) => told.push(event)
    paywall.events.on('request', listener)
    try {
      await portalBrowser(paywall).api('GET', '/info')
      await portalBrowser(paywall).api('GET', '/me')
      expect(told).toEqual([])
    } finally {
      paywall.events.off('request', listener)
    }
  })

  it('portal: false serves nothing under /__402x/portal', () => {
    const off = paywalls.make({ network: 'eip155:8453', portal: false })
    expect(off.match('GET', '/__402x/portal/api/info')).toBeUndefined()
  })
})

describe('portal: wallet sign-in (SIGN-IN-WITH-X)', () => {
  it('signs in with an EIP-4361 signature over the portal URL, once; keys it creates belong to the wallet', async () => {
    const browser = portalBrowser(paywall)
    const { address, payload, answer } = await walletSignIn(browser)
    expect(answer.status).toBe(200)
    expect(answer.json).toMatchObject({ kind: 'wallet', address })
    expect(payload.uri).toBe('http://127.0.0.1:4021/__402x/portal')

    const replay = await portalBrowser(paywall).api('POST', '/session', { siwx: encodeHeader(payload) })
    expect(replay.status).toBe(401)
    expect(replay.json.error).toBe('siwx_replayed')

    const created = await browser.api('POST', '/keys', { name: 'wallet app', plan: 'free' })
    expect(created.status).toBe(201)
    expect((await paywall.keys!.get((created.json.info as { id: string }).id))?.owner).toBe(address)
    const usage = await browser.api('GET', '/usage')
    expect(usage.json.payments).toMatchObject({ count: 0, amount: '0', recent: [] })
    expect((await browser.api('GET', '/credits')).json.balance).toEqual({ available: '0', reserved: '0' })

    const out = await browser.api('DELETE', '/session')
    expect(out.status).toBe(200)
    expect((await browser.api('GET', '/me')).json.error).toBe('sign_in_required')
  })

  it('refuses a proof signed for another site, or by another key than it names', async () => {
    const browser = portalBrowser(paywall)
    const privateKey = generatePrivateKey()
    const account = privateKeyToAccount(privateKey)
    const challenge = (await browser.api('GET', '/siwx')).json as unknown as SiwxExtension
    const chainId = 'eip155:8453'
    const elsewhere = signSiwx({
      info: { ...challenge.info, uri: 'http://127.0.0.1:4021/api/data' },
      chainId,
      privateKey,
      address: account.address,
    })
    const wrongPath = await browser.api('POST', '/session', { siwx: encodeHeader(elsewhere) })
    expect(wrongPath.status).toBe(401)
    expect(wrongPath.json.error).toBe('invalid_siwx_uri_mismatch')
    const signed = signSiwx({ info: challenge.info, chainId, privateKey, address: account.address })
    const forged = { ...signed, address: privateKeyToAccount(generatePrivateKey()).address }
    const answer = await browser.api('POST', '/session', { siwx: encodeHeader(forged) })
    expect(answer.status).toBe(401)
    expect(answer.json.error).toBe('invalid_siwx_signature')
  })
})

describe('portal: static files', () => {
  it('serves only what the build wrote, with its content type; a missing build is 503 portal_not_built', () => {
    const dir = mkdtempSync(join(tmpdir(), '402x-portal-ui-'))
    try {
      const serve = staticFiles(dir, '/__402x/portal')
      expect(serve('/__402x/portal', 'GET').status).toBe(503)
      mkdirSync(join(dir, 'assets'))
      writeFileSync(join(dir, 'index.html'), '<!doctype html><title>p</title>')
      writeFileSync(join(dir, 'assets', 'app-1.js'), 'console.log(1)')
      writeFileSync(join(dir, 'assets', 'app-1.css'), 'body{}')
      const page = serve('/__402x/portal', 'GET')
      expect(page.status).toBe(200)
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'")
      expect(serve('/__402x/portal/assets/app-1.js', 'GET').headers.get('content-type')).toBe(
        'text/javascript; charset=utf-8',
      )
      expect(serve('/__402x/portal/assets/app-1.css', 'GET').headers.get('cache-control')).toContain('immutable')
      expect(serve('/__402x/portal/../../etc/passwd', 'GET').status).toBe(404)
      expect(serve('/__402x/portal/assets/app-1.js', 'POST').status).toBe(405)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
