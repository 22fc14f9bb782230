import { Webhook as StandardWebhook } from 'standardwebhooks'
import { Webhook as SvixWebhook } from 'svix'
import { describe, expect, it } from 'vitest'
import { eventBody } from './eventIds.js'
import { generateWebhookSecret, secretKey, webhookHeaders } from './signWebhook.js'
import { verifyWebhook } from './verifyWebhook.js'

// 402x's signatures, checked by the two verifiers receivers use, and by verifyWebhook.
const secret = generateWebhookSecret()
const body = eventBody({
  type: 'payment.settled',
  timestamp: Date.now(),
  data: { paymentId: 'p1', amount: '0.010000' },
})
const headers = webhookHeaders(secretKey(secret) as Buffer, 'evt_abc', body)

describe('webhook signatures (Standard Webhooks)', () => {
  it('makes whsec_ secrets of 32 random bytes', () => {
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(generateWebhookSecret()).not.toBe(secret)
  })

  it('is accepted by the standardwebhooks verifier', () => {
    const event = new StandardWebhook(secret).verify(body, headers) as { type: string; data: { paymentId: string } }
    expect(event.type).toBe('payment.settled')
    expect(event.data.paymentId).toBe('p1')
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/)
  })

  it('is accepted by the svix verifier', () => {
    // svix's verify returns nothing and throws on a bad signature.
    expect(() => new SvixWebhook(secret).verify(body, headers)).not.toThrow()
  })

  it('is refused by both for another secret or a changed body', () => {
    const other = generateWebhookSecret()
    expect(() => new StandardWebhook(other).verify(body, headers)).toThrow(/signature/i)
    expect(() => new SvixWebhook(other).verify(body, headers)).toThrow(/signature/i)
    expect(() => new StandardWebhook(secret).verify(`${body} `, headers)).toThrow(/signature/i)
  })

  it('verifyWebhook gives the event, or a reason code', () => {
    const ok = verifyWebhook({ payload: body, headers, secret })
    expect(ok).toMatchObject({ ok: true, id: 'evt_abc', type: 'payment.settled', data: { amount: '0.010000' } })
    expect(verifyWebhook({ payload: body, headers: new Headers(headers), secret }).ok).toBe(true)
    expect(verifyWebhook({ payload: `${body}x`, headers, secret })).toMatchObject({
      ok: false,
      reason: 'invalid_signature',
    })
    expect(verifyWebhook({ payload: body, headers: {}, secret })).toMatchObject({ reason: 'missing_headers' })
    expect(verifyWebhook({ payload: body, headers, secret, now: Date.now() + 600_000 })).toMatchObject({
      reason: 'timestamp_out_of_range',
    })
    expect(verifyWebhook({ payload: body, headers, secret: 'nope' })).toMatchObject({ reason: 'invalid_secret' })
  })

  it('verifies what svix signs (the same scheme both ways)', () => {
    const signer = new StandardWebhook(secret)
    const at = new Date()
    const signature = signer.sign('msg_1', at, body)
    const theirs = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signature,
    }
    expect(verifyWebhook({ payload: body, headers: theirs, secret }).ok).toBe(true)
  })
})
