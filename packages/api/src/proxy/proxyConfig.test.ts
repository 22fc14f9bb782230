import { describe, expect, it } from 'vitest'
import { parseProxyConfig } from './proxyConfig.js'

const parse = (text: string) => parseProxyConfig(text, '402x.yaml')
const errorOf = (text: string) => {
  try {
    parse(text)
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('no error')
}

describe('402x.yaml', () => {
  it("reads the smallest file: the middleware's routes beside an upstream", () => {
    const config = parse(`upstream: http://127.0.0.1:8000/
routes:
  'GET /api/data': 0.01
  'POST /v1/chat/completions': { pricePerToken: 0.00002, max: 0.05 }
`)
    expect(config.upstream).toBe('http://127.0.0.1:8000')
    // Dollars as their decimal text; a per-token stream without usage is charged the max.
    expect(config.paywall.routes).toEqual({
      'GET /api/data': '0.01',
      'POST /v1/chat/completions': { pricePerToken: '0.00002', max: '0.05', missingUsage: 'max' },
    })
    // A proxy tells its upstream who called.
    expect(config.paywall.trackingHeaders).toBe(true)
    expect(config.timeoutMs).toBe(30_000)
  })

  it('turns pricePerSecond and pricePerKb into the metering they mean, and keeps each route’s upstream', () => {
    const config = parse(`upstreams: { files: http://127.0.0.1:9000 }
routes:
  'GET /video': { pricePerSecond: 0.001, max: 0.5 }
  'GET /files/*': { pricePerKb: 0.0001, max: 0.1, upstream: files }
`)
    const routes = config.paywall.routes as Record<string, Record<string, unknown>>
    expect(routes['GET /video']).toMatchObject({ pricePerSecond: '0.001', trackTime: true })
    const perKb = routes['GET /files/*'] as { price: string; meterResponse: (r: { data: string }) => number }
    expect(perKb.price).toBe('0.0001')
    expect(perKb.meterResponse({ data: 'x'.repeat(2500) })).toBe(2.5)
    expect(config.routeUpstreams).toEqual({ 'GET /video': undefined, 'GET /files/*': 'files' })
  })

  it('reads a YAML number as the decimal it was written as, never in exponent notation', () => {
    // YAML gives 0.0000006 as a number, which JavaScript writes 6e-7: no amount of dollars.
    const config = parse(`upstream: http://127.0.0.1:8000
routes:
  'GET /tiny': 0.0000001
  'POST /v1/chat': { pricePerToken: 0.0000006, max: 1.5e-3 }
  'GET /files': { pricePerKb: 1e-9, max: 0.01 }
`)
    const routes = config.paywall.routes as Record<string, Record<string, unknown> | string>
    expect(routes['GET /tiny']).toBe('0.0000001')
    expect(routes['POST /v1/chat']).toMatchObject({ pricePerToken: '0.0000006', max: '0.0015' })
    expect((routes['GET /files'] as Record<string, unknown>).price).toBe('0.000000001')
  })

  it('names the line of each mistake', () => {
    expect(errorOf('upstream: http://x\nroutes:\n  "GET /a": 0.01\nprise: 1\n')).toMatch(
      /^402x\.yaml:4: "prise" is not a setting/,
    )
    expect(errorOf('upstream: http://x\nroutes:\n  "GET /a": { price: 0.01, colour: red }\n')).toMatch(
      /^402x\.yaml:3: routes\."GET \/a": "colour" is not a route setting/,
    )
    expect(errorOf('upstream: ftp://x\n')).toMatch(/^402x\.yaml:1: upstream must be an http\(s\) URL/)
    expect(errorOf('upstream: http://x\nroutes:\n  "GET /a": { max: 1 }\n')).toMatch(/give its price/)
    expect(errorOf('upstream: http://x\nroutes:\n  "GET /a": { price: 1, upstream: llm }\n')).toMatch(
      /^402x\.yaml:3: .*"llm" is not in upstreams/,
    )
    expect(errorOf('routes: [\n')).toMatch(/^402x\.yaml:\d+: not valid YAML/)
    expect(errorOf('timeoutMs: -1\n')).toMatch(/^402x\.yaml:1: timeoutMs must be a positive whole number/)
    // A route key or a free path that is not a route pattern, by its line.
    expect(errorOf('upstream: http://x\nroutes:\n  "GET /a": 0.01\n  "FETCH": 0.01\n')).toMatch(
      /^402x\.yaml:4: routes\."FETCH": /,
    )
    expect(errorOf('upstream: http://x\nfree:\n  - "GET /ok"\n  - health\n')).toMatch(/^402x\.yaml:4: free\[1\]: /)
  })
})
