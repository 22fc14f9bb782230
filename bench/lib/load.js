// The load generator, identical for every scenario: `concurrency` callers, each on its own
// keep-alive connection, sending one request after another until the time is up or the
// pre-built headers run out. Paid requests carry one distinct pre-signed PAYMENT-SIGNATURE;
// credit-funded ones all carry the same `Authorization: Bearer <token>`.
import http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'

const requestTimeoutMs = 30_000

const decode = (header) => {
  try {
    return typeof header === 'string' ? JSON.parse(Buffer.from(header, 'base64').toString('utf8')) : undefined
  } catch {
    return undefined
  }
}

/**
 * A paid request succeeds only with 200 and a PAYMENT-RESPONSE whose `success` is true.
 * Returns undefined on success, else why it failed (status and the x402 reason, if any).
 */
function paidFailure(res) {
  const receipt = decode(res.headers['payment-response'])
  if (res.statusCode === 200 && receipt?.success === true) return undefined
  const reason = receipt?.errorReason ?? decode(res.headers['payment-required'])?.error
  return `HTTP ${res.statusCode}${reason ? ` ${reason}` : ''}`
}

/**
 * What counts as a success: a settled payment, a 200 drawn from credit (with its
 * X-402x-Receipt), a 200, a 200 that a rate limit counted (with its RateLimit header), or a
 * 402 that carries PAYMENT-REQUIRED.
 */
const checks = {
  paid: paidFailure,
  credit: (res) =>
    res.statusCode === 200 && res.headers['x-402x-receipt']
      ? undefined
      : `HTTP ${res.statusCode}${res.statusCode === 200 ? ' without X-402x-Receipt' : ''}`,
  200: (res) => (res.statusCode === 200 ? undefined : `HTTP ${res.statusCode}`),
  ratelimit: (res) =>
    res.statusCode === 200 && res.headers.ratelimit
      ? undefined
      : `HTTP ${res.statusCode}${res.statusCode === 200 ? ' without RateLimit' : ''}`,
  402: (res) =>
    res.statusCode === 402 && res.headers['payment-required'] ? undefined : `HTTP ${res.statusCode} (expected a 402)`,
}

/**
 * Runs one bounded load. `payments` (encoded PAYMENT-SIGNATURE values) makes it a paid
 * run: each is sent once, and the run also ends when they are used up.
 *
 * @param port The server's port, or several: the requests then take them in turn (the
 *   bench's own load balancer, round robin over every request of every caller).
 * @param headers Headers sent with every request (e.g. `authorization`).
 * @param expect `'paid'` (the default with `payments`), `'credit'`, `200` (the default without),
 *   `'ratelimit'` or `402`.
 *   With `payments` and `expect: 200`, the requests carry payments a server without a
 *   paywall ignores: the same bytes on the wire as a paid run.
 * @param rate Requests per second over all callers, evenly spaced (an open-loop pace),
 *   instead of each caller sending its next request as soon as the last one answers.
 * @returns successes, failures (with a sample of reasons), elapsed seconds, successful
 *   requests per second and the latency (ms) of successful requests.
 */
export async function runLoad({ port, path, concurrency, durationMs, payments, headers, headersOf, expect, rate }) {
  const check = checks[expect ?? (payments ? 'paid' : 200)]
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
  const ports = [port].flat()
  let turn = 0
  const latencies = []
  const reasons = new Map()
  let ok = 0
  let failed = 0
  let next = 0
  const fail = (reason) => {
    failed++
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
  }
  const one = (headers) =>
    new Promise((resolve) => {
      const started = performance.now()
      let done = false
      const finish = (failure) => {
        if (done) return
        done = true
        if (failure === undefined) {
          ok++
          latencies.push(performance.now() - started)
        } else fail(failure)
        resolve()
      }
      const req = http.request(
        { host: '127.0.0.1', port: ports[turn++ % ports.length], path, method: 'GET', agent, headers },
        (res) => {
          const failure = check(res)
          res.resume()
          res.on('end', () => finish(failure))
          res.on('error', () => finish('response error'))
        },
      )
      req.setTimeout(requestTimeoutMs, () => req.destroy(new Error('timeout')))
      req.on('error', (error) => finish(error.message))
      req.end()
    })
  const start = performance.now()
  const end = start + durationMs
  let slot = 0
  const caller = async (index) => {
    const own = headersOf ? headersOf(index) : headers
    while (performance.now() < end) {
      if (rate) {
        const at = start + (slot++ * 1000) / rate
        if (at >= end) return
        if (at > performance.now()) await sleep(at - performance.now())
      }
      if (payments) {
        if (next >= payments.length) return
        await one({ ...own, 'payment-signature': payments[next++] })
      } else await one(own)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, i) => caller(i)))
  const elapsed = (performance.now() - start) / 1000
  agent.destroy()
  latencies.sort((a, b) => a - b)
  const at = (q) =>
    latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] : null
  return {
    ok,
    failed,
    total: ok + failed,
    elapsed,
    rps: ok / elapsed,
    p50: at(0.5),
    p99: at(0.99),
    exhausted: payments ? next >= payments.length : false,
    reasons: Object.fromEntries(reasons),
  }
}
