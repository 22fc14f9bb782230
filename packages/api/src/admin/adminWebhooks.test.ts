import { compileErrors, validate } from '@readme/openapi-parser'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { afterAll, describe, expect, it } from 'vitest'
import { startReceiver, until } from '../webhooks/receiver.fixture.js'
import { generateWebhookSecret } from '../webhooks/signWebhook.js'
import { fastDelivery, settlePayment, webhookPaywalls } from '../webhooks/webhookPaywalls.fixture.js'
import { call } from './adminTestPaywalls.js'

// The webhook endpoints of the admin API, through a real paywall on the local chain
// (SQLite ledger), with a real receiver.
const paywalls = webhookPaywalls()
const token = 'admin-token-for-tests'
const receiver = await startReceiver()
afterAll(async () => {
  await receiver.close()
  await paywalls.close()
})
const codeSecret = generateWebhookSecret()
const paywall = paywalls.make({
  adminToken: token,
  webhooks: [{ url: 'http://127.0.0.1:9/never', events: ['payment.failed'], secret: codeSecret }],
  webhookDelivery: fastDelivery,
})
const admin = (method: string, path: string, body?: unknown) =>
  call(paywall, method, `/__402x/admin${path}`, { token, ...(body !== undefined ? { body } : {}) })

describe('admin API: webhooks', () => {
  it('registers a webhook with a generated secret, delivers to it, lists it and its deliveries, replays and removes', async () => {
    const added = await admin('POST', '/webhooks', { url: receiver.url, events: ['payment.settled', 'key.created'] })
    expect(added.status).toBe(201)
    const secret = added.json.secret as string
    expect(secret).toMatch(/^whsec_/)
    const webhook = added.json.webhook as Record<string, unknown>
    expect(webhook).toMatchObject({ url: receiver.url, source: 'admin', failing: false, pending: 0 })
    const id = webhook.id as string

    const payment = await settlePayment(paywall)
    await until(
      async () =>
        ((await admin('GET', '/webhooks/deliveries?status=delivered')).json.deliveries as unknown[]).length === 1,
      'the delivery recorded',
    )
    const got = receiver.received[0]
    const event = new StandardWebhook(secret).verify(got?.body ?? '', got?.headers ?? {}) as {
      data: { paymentId: string }
    }
    expect(event.data.paymentId).toBe(payment.id)

    const listed = await admin('GET', '/webhooks')
    expect(listed.status).toBe(200)
    const hooks = listed.json.webhooks as Record<string, unknown>[]
    expect(hooks.map((h) => h.source).sort()).toEqual(['admin', 'code'])
    expect(JSON.stringify(listed.json)).not.toContain(secret)
    expect(JSON.stringify(listed.json)).not.toContain(codeSecret)
    expect(hooks.find((h) => h.id === id)).toMatchObject({ pending: 0, failing: false, createdAt: expect.any(String) })

    const deliveries = await admin('GET', `/webhooks/deliveries?status=delivered&webhook=${id}`)
    expect(deliveries.status).toBe(200)
    const [delivery] = deliveries.json.deliveries as Record<string, unknown>[]
    expect(delivery).toMatchObject({
      webhookId: id,
      type: 'payment.settled',
      status: 'delivered',
      attempts: 1,
      lastError: null,
    })
    expect(delivery?.eventId).toBe(got?.headers['webhook-id'])

    const replayed = await admin('POST', `/webhooks/deliveries/${delivery?.id}/replay`)
    expect(replayed.status).toBe(200)
    await until(() => receiver.received.length === 2, 'the replay')
    // The same event id: a receiver that saw it already knows it.
    expect(receiver.received[1]?.headers['webhook-id']).toBe(got?.headers['webhook-id'])

    expect((await admin('DELETE', `/webhooks/${id}`)).status).toBe(200)
    expect((await admin('DELETE', `/webhooks/${id}`)).status).toBe(404)
    expect(((await admin('GET', '/webhooks')).json.webhooks as unknown[]).length).toBe(1)
  })

  it('shows a failing endpoint with its error and pending deliveries', async () => {
    await settlePayment(paywall, 'failed')
    await until(async () => {
      const hooks = (await admin('GET', '/webhooks')).json.webhooks as Record<string, unknown>[]
      return hooks[0]?.failing === true
    }, 'the code webhook failing')
    const [hook] = (await admin('GET', '/webhooks')).json.webhooks as Record<string, unknown>[]
    expect(hook).toMatchObject({
      source: 'code',
      failing: true,
      pending: 1,
      lastError: expect.stringMatching(/could not send/),
    })
    const pending = await admin('GET', '/webhooks/deliveries?status=pending')
    expect((pending.json.deliveries as unknown[]).length).toBe(1)
  })

  it('refuses what it cannot do, with a reason and what to do', async () => {
    const [hook] = (await admin('GET', '/webhooks')).json.webhooks as { id: string }[]
    const code = await admin('DELETE', `/webhooks/${hook?.id}`)
    expect(code.status).toBe(400)
    expect(code.json).toMatchObject({ reason: 'webhook_not_removable' })
    expect(String(code.json.message)).toMatch(/remove it there/)
    const badEvents = await admin('POST', '/webhooks', { url: receiver.url, events: ['payment.paid'] })
    expect(badEvents.status).toBe(400)
    expect(String(badEvents.json.message)).toMatch(/events must be/)
    const badSecret = await admin('POST', '/webhooks', { url: receiver.url, events: ['*'], secret: 'abc' })
    expect(badSecret.status).toBe(400)
    expect((await admin('POST', '/webhooks', { events: ['*'] })).status).toBe(400)
    expect((await admin('GET', '/webhooks/deliveries?status=done')).status).toBe(400)
    expect((await admin('GET', '/webhooks/deliveries?limit=0')).status).toBe(400)
    expect((await admin('POST', '/webhooks/deliveries/dlv_nope/replay')).status).toBe(404)
    expect((await call(paywall, 'GET', '/__402x/admin/webhooks', { ip: '203.0.113.5' })).status).toBe(401)
  })

  it('pages deliveries with a cursor', async () => {
    for (let i = 0; i < 3; i++) await settlePayment(paywall, 'failed')
    await until(
      async () => ((await admin('GET', '/webhooks/deliveries')).json.deliveries as unknown[]).length >= 5,
      'deliveries',
    )
    const first = await admin('GET', '/webhooks/deliveries?limit=2')
    expect((first.json.deliveries as unknown[]).length).toBe(2)
    const second = await admin('GET', `/webhooks/deliveries?limit=2&cursor=${first.json.next}`)
    const ids = [...(first.json.deliveries as { id: string }[]), ...(second.json.deliveries as { id: string }[])].map(
      (d) => d.id,
    )
    expect(new Set(ids).size).toBe(4)
  })

  it('is in the OpenAPI document, which is valid', async () => {
    const answer = await admin('GET', '/openapi.json')
    const paths = Object.keys(answer.json.paths as object)
    expect(paths).toEqual(
      expect.arrayContaining([
        '/__402x/admin/webhooks',
        '/__402x/admin/webhooks/{id}',
        '/__402x/admin/webhooks/deliveries',
        '/__402x/admin/webhooks/deliveries/{id}/replay',
      ]),
    )
    const result = await validate(structuredClone(answer.json) as never)
    expect(result.valid ? 'valid' : compileErrors(result)).toBe('valid')
  })
})
