import { Counter, Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { createMetrics } from './createMetrics.js'
import { RequestCounter, RequestHistogram } from './requestMetrics.js'

// 402x's own request counter and histogram must read, to every scraper and to prom-client's
// JSON, exactly as prom-client's Counter and Histogram of the same names would: the same
// requests are fed to both and the registries' outputs compared.
const buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const help = { requests: 'Requests by route', durations: 'Time to the answer' }

function both() {
  const theirs = new Registry()
  const counter = new Counter({
    name: 'x402_requests_total',
    help: help.requests,
    labelNames: ['route', 'outcome', 'status'],
    registers: [theirs],
  })
  const histogram = new Histogram({
    name: 'x402_request_duration_seconds',
    help: help.durations,
    labelNames: ['route', 'outcome'],
    buckets,
    registers: [theirs],
  })
  const mine = new Registry()
  const requests = new RequestCounter('x402_requests_total', help.requests, mine)
  const durations = new RequestHistogram('x402_request_duration_seconds', help.durations, buckets, mine)
  const feed = (route: string, outcome: string, status: number, seconds: number) => {
    counter.inc({ route, outcome, status: String(status) })
    histogram.observe({ route, outcome }, seconds)
    requests.inc(route, outcome, status)
    durations.observe(route, outcome, seconds)
  }
  return { theirs, mine, feed, requests, durations }
}

describe('RequestCounter and RequestHistogram', () => {
  it('write the text exposition and the JSON of prom-client’s Counter and Histogram, line for line', async () => {
    const { theirs, mine, feed } = both()
    // Empty first: the HELP and TYPE lines alone.
    expect(await mine.metrics()).toBe(await theirs.metrics())
    const routes = ['GET /api/data', 'POST /v1/chat', 'GET /odd"route\\with\nnewline', 'other']
    const outcomes = ['paid', 'credit', 'key', 'refused', 'error']
    // Values on the bounds, between them, past the last one, and zero.
    const seconds = [0, 0.001, 0.0010001, 0.004, 0.005, 0.3, 1, 2.5, 29.9, 30, 31, 120, 0.000_3]
    let n = 0
    for (let i = 0; i < 400; i++) {
      n = (n * 1103515245 + 12345) % 2 ** 31
      feed(
        routes[n % routes.length] as string,
        outcomes[(n >> 3) % outcomes.length] as string,
        [200, 402, 429, 500][(n >> 6) % 4] as number,
        seconds[(n >> 9) % seconds.length] as number,
      )
    }
    expect(await mine.metrics()).toBe(await theirs.metrics())
    expect(await mine.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON())
    const text = await mine.metrics()
    expect(text).toContain('x402_requests_total{route="GET /api/data",outcome="paid",status="200"}')
    expect(text).toContain('x402_request_duration_seconds_bucket{le="+Inf",route="GET /api/data",outcome="paid"}')
  })

  it('start again from nothing on reset, as prom-client’s do', async () => {
    const { theirs, mine, feed } = both()
    feed('GET /a', 'paid', 200, 0.02)
    theirs.resetMetrics()
    mine.resetMetrics()
    expect(await mine.metrics()).toBe(await theirs.metrics())
    feed('GET /b', 'credit', 200, 0.2)
    expect(await mine.metrics()).toBe(await theirs.metrics())
  })

  it('refuse a duration that is not a number, counting it nowhere', async () => {
    const { mine, durations } = both()
    expect(() => durations.observe('GET /a', 'paid', Number.NaN)).toThrow(TypeError)
    expect(await mine.metrics()).not.toContain('_count')
  })

  it('are made once per registry: two paywalls on one registry add up, a foreign metric of the name is refused', async () => {
    const registry = new Registry()
    const a = createMetrics(registry)
    const b = createMetrics(registry)
    expect(b.requests).toBe(a.requests)
    a.requests.inc('GET /x', 'paid', 200)
    b.requests.inc('GET /x', 'paid', 200)
    expect(await registry.metrics()).toContain('x402_requests_total{route="GET /x",outcome="paid",status="200"} 2')
    const foreign = new Registry()
    new Counter({ name: 'x402_requests_total', help: 'not ours', registers: [foreign] })
    expect(() => createMetrics(foreign)).toThrow(/already has a metric named x402_requests_total/)
  })
})
