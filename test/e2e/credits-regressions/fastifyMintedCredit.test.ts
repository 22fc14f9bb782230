import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { Paywall } from '402x-api'
import { x402Fastify } from '402x-api/fastify'
import Fastify from 'fastify'
import { expect, it } from 'vitest'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// creditProceed.undelivered (createPaywall.ts) refunds whenever `hold.done`, which is also
// true after a *drop*: a credit-funded response that was never charged (status >= 400) is
// "refunded" when the caller leaves before it goes out. Fastify awaits a stream payload
// in onSend, so a caller that leaves meanwhile makes this happen on demand.
it('Fastify: a credit-funded 404 (never charged) whose caller leaves mid-body is not refunded: no credit is minted', async () => {
  const dir = mkdtempSync(join(tmpdir(), '402x-credits-'))
  const app = Fastify({ forceCloseConnections: true })
  try {
    await app.register(x402Fastify, {
      payTo: '0x1111111111111111111111111111111111111111',
      network: 'eip155:8453',
      facilitator: 'http://127.0.0.1:9',
      ledger: join(dir, 'ledger.db'),
      reconcileIntervalMs: 0,
      routes: { 'GET /api/proxy/:id': 0.01 },
    } as never)
    let streamed = 0
    // A proxy that passes the upstream status and body through: here the upstream says 404.
    app.get('/api/proxy/:id', async (_request, reply) => {
      const body = Readable.from(
        (async function* () {
          for (let i = 0; i < 6; i++) {
            await sleep(50)
            yield Buffer.from(`chunk ${i}\n`)
          }
          streamed++
        })(),
      )
      return reply.code(404).type('text/plain').send(body)
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
    const paywall = (app as unknown as { paywall: Paywall }).paywall
    const { token } = await paywall.credits!.grant({ amount: 0.05, ref: 'minted' })
    const auth = { authorization: `Bearer ${token}` }

    // A served 404 is not charged (control).
    const control = await fetch(`${url}/api/proxy/x`, { headers: auth, signal: AbortSignal.timeout(5000) })
    expect(control.status).toBe(404)
    await control.text()
    expect(await paywall.credits!.balance(token as string)).toEqual({ available: '0.05', reserved: '0' })

    for (let i = 0; i < 3; i++) {
      const abort = new AbortController()
      const gone = fetch(`${url}/api/proxy/x`, { headers: auth, signal: abort.signal }).catch(() => 'aborted')
      await sleep(120)
      abort.abort()
      expect(await gone).toBe('aborted')
    }
    for (let waited = 0; streamed < 4 && waited < 3000; waited += 20) await sleep(20)
    await sleep(200)
    expect(streamed).toBe(4)
    // Nothing was ever charged: the balance is what was granted.
    expect(await paywall.credits!.balance(token as string)).toEqual({ available: '0.05', reserved: '0' })
    const shown = (await (await fetch(`${url}/__402x/credits`, { headers: auth })).json()) as {
      entries: { kind: string }[]
    }
    expect(shown.entries.map((e) => e.kind)).toEqual(['grant'])
  } finally {
    app.server.closeAllConnections()
    await app.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
