import { Registry } from 'prom-client'
import { afterAll, describe, expect, it } from 'vitest'
import { adminPaywalls } from '../admin/adminTestPaywalls.js'

const made = adminPaywalls()
afterAll(() => made.close())

describe('metrics and logger options', () => {
  it('opens /__402x/metrics to loopback on the local chain without a token, not to others', async () => {
    const paywall = made.make({ network: 'eip155:31337' })
    const decision = await paywall.handle(new Request('http://127.0.0.1:4021/__402x/metrics'), undefined, {
      ip: '127.0.0.1',
    })
    expect(decision.type).toBe('respond')
    const response = (decision as { response: Response }).response
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await response.text()).toContain('# TYPE x402_requests_total counter')
    const remote = await paywall.handle(new Request('http://127.0.0.1:4021/__402x/metrics'), undefined, {
      ip: '203.0.113.9',
    })
    expect((remote as { response: Response }).response.status).toBe(403)
  })

  it('is closed off the local chain without a token, and takes X402_METRICS_TOKEN', async () => {
    const base = made.make({ network: 'eip155:8453' })
    const answer = await base.handle(new Request('http://127.0.0.1:4021/__402x/metrics'), undefined, {
      ip: '127.0.0.1',
    })
    const response = (answer as { response: Response }).response
    expect(response.status).toBe(403)
    expect(await response.json()).toMatchObject({ reason: 'metrics_disabled' })
    process.env.X402_METRICS_TOKEN = 'from-env-token'
    try {
      const withEnv = made.make({ network: 'eip155:8453' })
      const ok = await withEnv.handle(
        new Request('http://127.0.0.1:4021/__402x/metrics', { headers: { authorization: 'Bearer from-env-token' } }),
      )
      expect((ok as { response: Response }).response.status).toBe(200)
    } finally {
      delete process.env.X402_METRICS_TOKEN
    }
  })

  it('serves a registry of the seller, and nothing with metrics: false', async () => {
    const registry = new Registry()
    const shared = made.make({ network: 'eip155:31337', metrics: { registry } })
    expect(shared.match('GET', '/__402x/metrics')).toBeDefined()
    expect(await registry.metrics()).toContain('x402_payments_total')
    const off = made.make({ network: 'eip155:31337', metrics: false })
    expect(off.match('GET', '/__402x/metrics')).toBeUndefined()
  })

  it('refuses a logger or metrics option it cannot use, saying what to give', () => {
    expect(() => made.make({ network: 'eip155:31337', logger: 'yes' as never })).toThrow(/pino logger/)
    expect(() => made.make({ network: 'eip155:31337', metrics: { tokn: 'x' } as never })).toThrow(/tokn/)
  })
})
