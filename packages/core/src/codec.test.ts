import { describe, expect, it } from 'vitest'
import { decodeHeader, encodeHeader, maxHeaderBytes } from './codec.js'
import { PaymentPayloadSchema } from './types.js'

const payload = {
  x402Version: 2,
  accepted: {
    scheme: 'exact',
    network: 'eip155:8453',
    amount: '10000',
    asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
    payTo: '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
    maxTimeoutSeconds: 60,
    extra: { name: 'USD Coin', version: '2' },
  },
  payload: { signature: '0x00', authorization: {} },
}

describe('header codec', () => {
  it('round-trips through standard padded base64 of UTF-8 JSON', () => {
    const value = encodeHeader({ ...payload, resource: { url: 'https://x/ü' } })
    expect(value).toMatch(/^[A-Za-z0-9+/]+={0,2}$/)
    expect(JSON.parse(Buffer.from(value, 'base64').toString('utf8')).resource.url).toBe('https://x/ü')
    const decoded = decodeHeader(value, PaymentPayloadSchema)
    expect(decoded.ok && decoded.value.accepted.amount).toBe('10000')
  })

  it.each([
    ['not base64!', 'invalid_payload', 'not base64'],
    ['abc', 'invalid_payload', 'not base64'],
    // Two PAYMENT-SIGNATURE headers, joined by the HTTP stack.
    [`${encodeHeader(payload)}, ${encodeHeader(payload)}`, 'invalid_payload', 'sent more than once'],
    [`${encodeHeader(payload)},${encodeHeader(payload)}`, 'invalid_payload', 'sent more than once'],
    [Buffer.from('{"x402Version":').toString('base64'), 'invalid_payload', 'not JSON'],
    [encodeHeader({ ...payload, x402Version: 3 }), 'invalid_payload', 'x402Version'],
    [
      encodeHeader({ ...payload, accepted: { ...payload.accepted, amount: '-1' } }),
      'invalid_payload',
      'accepted.amount',
    ],
    [
      encodeHeader({ ...payload, accepted: { ...payload.accepted, amount: '1e5' } }),
      'invalid_payload',
      'accepted.amount',
    ],
    ['A'.repeat(maxHeaderBytes + 4), 'payload_too_large', 'at most'],
    [
      encodeHeader({ ...payload, accepted: { ...payload.accepted, amount: (2n ** 256n).toString() } }),
      'invalid_payload',
      '256-bit',
    ],
  ])('refuses %s as data, never throwing', (value, reason, message) => {
    const decoded = decodeHeader(value, PaymentPayloadSchema)
    expect(decoded.ok).toBe(false)
    if (!decoded.ok) {
      expect(decoded.error.reason).toBe(reason)
      expect(decoded.error.message).toContain(message)
    }
  })
})
