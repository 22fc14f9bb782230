import { compileErrors, validate } from '@readme/openapi-parser'
import { afterAll, describe, expect, it } from 'vitest'
import { plans } from '../keys/plans.js'
import { adminPaywalls, call } from './adminTestPaywalls.js'

// The admin API through a real paywall on Base (SQLite ledger, the token case), as an
// operator drives it: keys made, used on a priced route, revoked; usage, credit, plans.
const paywalls = adminPaywalls()
afterAll(() => paywalls.close())
const token = 'admin-token-for-tests'
const paywall = paywalls.make({ network: 'eip155:8453', adminToken: token })
const admin = (method: string, path: string, body?: unknown) =>
  call(paywall, method, `/__402x/admin${path}`, { token, ...(body !== undefined ? { body } : {}) })
const useKey = (key: string) =>
  paywall.handle(
    new Request('http://127.0.0.1:4021/api/data', { headers: { authorization: `Bearer ${key}` } }),
    undefined,
    {
      ip: '127.0.0.1',
    },
  )

describe('admin API: keys', () => {
  it('creates a key shown once, which works on a priced route at once and is refused once revoked', async () => {
    const created = await admin('POST', '/keys', {
      name: 'alice',
      plan: 'free',
      owner: 'alice@example.com',
      metadata: { team: 'a' },
    })
    expect(created.status).toBe(201)
    const key = created.json.key as string
    const info = created.json.info as Record<string, unknown>
    expect(key).toMatch(/^x402_live_[A-Za-z0-9]{32}$/)
    expect(info).toMatchObject({ name: 'alice', plan: 'free', owner: 'alice@example.com', state: 'active' })
    expect(info).not.toHaveProperty('hash')
    const id = info.id as string

    const served = await useKey(key)
    expect(served.type).toBe('proceed')
    if (served.type === 'proceed') await served.finish(Response.json({ ok: true }))

    const got = await admin('GET', `/keys/${id}`)
    expect(got.status).toBe(200)
    expect(JSON.stringify(got.json)).not.toContain(key)
    const listed = await admin('GET', '/keys?plan=free')
    expect((listed.json.keys as { id: string }[]).map((k) => k.id)).toContain(id)

    const usage = await admin('GET', `/keys/${id}/usage`)
    expect(usage.status).toBe(200)
    expect(usage.json).toMatchObject({ keyId: id, total: { calls: 1, units: 1, amount: '0' } })
    expect((usage.json.lines as { route: string; amount: unknown }[])[0]).toMatchObject({ route: 'GET /api/data' })
    expect(typeof (usage.json.total as { amount: unknown }).amount).toBe('string')

    const revoked = await admin('POST', `/keys/${id}/revoke`)
    expect(revoked.status).toBe(200)
    expect(revoked.json).toMatchObject({ revoked: true, info: { state: 'revoked' }, minted: [], creditTokens: 0 })
    const refused = await useKey(key)
    expect(refused.type).toBe('respond')
    if (refused.type === 'respond') {
      expect(refused.response.status).toBe(401)
      expect(await refused.response.json()).toMatchObject({ error: 'key_revoked' })
    }
    const again = await admin('DELETE', `/keys/${id}`)
    expect(again.status).toBe(409)
    expect(again.json).toMatchObject({ error: 'key_revoked' })
    expect((await admin('GET', '/keys')).json.keys).not.toContainEqual(expect.objectContaining({ id }))
    expect((await admin('GET', '/keys?includeRevoked=1')).json.keys).toContainEqual(expect.objectContaining({ id }))
  })

  it('sets an expiry from expiresIn or expiresAt, and refuses bad input with a message', async () => {
    const before = Date.now()
    const in30 = await admin('POST', '/keys', { name: 'b', plan: 'free', expiresIn: '30d' })
    expect(in30.status).toBe(201)
    const expiresAt = (in30.json.info as { expiresAt: number }).expiresAt
    expect(expiresAt - before).toBeGreaterThanOrEqual(30 * 86_400_000)
    const at = await admin('POST', '/keys', { name: 'c', plan: 'free', expiresAt: '2999-01-01T00:00:00Z' })
    expect((at.json.info as { expiresAt: number }).expiresAt).toBe(Date.parse('2999-01-01T00:00:00Z'))
    const cases: [unknown, RegExp][] = [
      [{ plan: 'free' }, /name/],
      [{ name: 'x', plan: 'gold' }, /no plan "gold".*free/],
      [{ name: 'x', plan: 'free', expiresIn: 'soon' }, /expiresIn.*30d/],
      [{ name: 'x', plan: 'free', expiresIn: '1d', expiresAt: 5 }, /not both/],
      [{ name: 'x', plan: 'free', colour: 'red' }, /colour/],
    ]
    for (const [body, message] of cases) {
      const answer = await admin('POST', '/keys', body)
      expect(answer.status).toBe(400)
      expect(answer.json.message).toMatch(message)
    }
    const badJson = await paywall.handle(
      new Request('http://127.0.0.1:4021/__402x/admin/keys', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{"name": ',
      }),
      undefined,
      { ip: '127.0.0.1' },
    )
    expect(badJson.type === 'respond' && badJson.response.status).toBe(400)
  })

  it('grants credit to a key and shows it, in dollar strings; 404 for an unknown key', async () => {
    const { json } = await admin('POST', '/keys', { name: 'payg', plan: 'pay-as-you-go' })
    const id = (json.info as { id: string }).id
    const granted = await admin('POST', `/keys/${id}/credit`, { amount: '1.50', ref: 'invoice-1' })
    expect(granted.status).toBe(200)
    expect(granted.json).toEqual({ keyId: id, balance: { available: '1.5' } })
    const shown = await admin('GET', `/keys/${id}/credit`)
    expect(shown.json).toEqual({ keyId: id, balance: { available: '1.5', reserved: '0' } })
    const served = await useKey(json.key as string)
    expect(served.type).toBe('proceed')
    if (served.type === 'proceed') await served.finish(Response.json({ ok: true }))
    expect((await admin('GET', `/keys/${id}/credit`)).json).toMatchObject({ balance: { available: '1.49' } })
    const usage = await admin('GET', `/keys/${id}/usage?from=2000-01-01&to=${Date.now() + 60_000}`)
    expect(usage.json).toMatchObject({ total: { calls: 1, amount: '0.01' } })
    expect((await admin('GET', `/keys/${id}/usage?from=yesterday`)).status).toBe(400)
    expect((await admin('POST', `/keys/${id}/credit`, { amount: '-1' })).status).toBe(400)
    const unknown = await admin('GET', '/keys/key_nope/credit')
    expect(unknown.status).toBe(404)
    expect(unknown.json).toMatchObject({ error: 'not_found' })
  })
})

describe('admin API: plans and the document', () => {
  it('lists the plans and puts a checked one; an invalid plan is 400 with checkPlan’s message', async () => {
    const listed = await admin('GET', '/plans')
    expect((listed.json.plans as { name: string }[]).map((p) => p.name)).toEqual(['free', 'pay-as-you-go', 'pro'])
    const team = { ...plans.tiered({ name: 'team', monthly: 1000 }) }
    const put = await admin('PUT', '/plans/team', { ...team, name: undefined })
    expect(put.status).toBe(200)
    expect(put.json.plan).toMatchObject({ name: 'team', quota: { month: 1000 } })
    expect((await admin('GET', '/plans')).json.plans).toContainEqual(expect.objectContaining({ name: 'team' }))
    expect((await admin('POST', '/keys', { name: 'on-team', plan: 'team' })).status).toBe(201)
    const invalid = await admin('PUT', '/plans/team', { ...team, quota: { month: 0 } })
    expect(invalid.status).toBe(400)
    expect(invalid.json).toMatchObject({ error: 'invalid_config' })
    expect(invalid.json.message).toMatch(/quota\.month.*positive whole number/)
    const inCode = await admin('PUT', '/plans/free', plans.free({ quota: { month: 5 } }))
    expect(inCode.status).toBe(400)
    expect(inCode.json.message).toMatch(/given in the server's code/)
  })

  it('serves a valid OpenAPI 3.1 document of the admin endpoints', async () => {
    const answer = await admin('GET', '/openapi.json')
    expect(answer.status).toBe(200)
    expect(answer.json.openapi).toBe('3.1.0')
    expect(Object.keys(answer.json.paths as object)).toContain('/__402x/admin/keys/{id}/usage')
    const result = await validate(structuredClone(answer.json) as never)
    expect(result.valid ? 'valid' : compileErrors(result)).toBe('valid')
  })

  it('never prices or charges an admin request, and never hands it on', async () => {
    const answer = await admin('GET', '/keys')
    expect(answer.type).toBe('respond')
    expect(answer.headers.get('payment-required')).toBeNull()
  })
})
