import { createHmac, randomBytes } from 'node:crypto'
import { X402Error } from '@402x/core'

const prefix = 'whsec_'

/**
 * A new signing secret: `whsec_` + 32 random bytes in base64 (Standard Webhooks).
 *
 * @example
 * const secret = generateWebhookSecret() // 'whsec_…'
 */
export function generateWebhookSecret(): string {
  return `${prefix}${randomBytes(32).toString('base64')}`
}

/** The key bytes of a `whsec_` secret, or `undefined` when it is not one. */
export function secretKey(secret: string): Buffer | undefined {
  if (!secret.startsWith(prefix)) return undefined
  const b64 = secret.slice(prefix.length)
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined
  const key = Buffer.from(b64, 'base64')
  return key.length >= 24 ? key : undefined
}

/** The key of a secret known good, or `invalid_config` saying what a secret looks like. */
export function checkedKey(secret: string, where: string): Buffer {
  const key = secretKey(secret)
  if (!key) {
    throw new X402Error('invalid_config', {
      message: `${where}: the secret is not a whsec_ secret (whsec_ + base64 of at least 24 bytes): make one with \`402x webhooks add\` or generateWebhookSecret()`,
      details: { option: 'secret' },
    })
  }
  return key
}

/**
 * The Standard Webhooks signature of one message: `v1,` + base64 HMAC-SHA256 of
 * `id.timestamp.body` (timestamp in seconds).
 *
 * @example
 * const signature = signWebhook({ secret, id: 'evt_1', timestamp: 1_700_000_000, body: '{}' })
 */
export function signWebhook(input: { secret: string | Buffer; id: string; timestamp: number; body: string }): string {
  const key = typeof input.secret === 'string' ? checkedKey(input.secret, 'signWebhook()') : input.secret
  const mac = createHmac('sha256', key).update(`${input.id}.${input.timestamp}.${input.body}`).digest('base64')
  return `v1,${mac}`
}

/** The three Standard Webhooks headers for one attempt (its timestamp now). */
export function webhookHeaders(key: Buffer, id: string, body: string, now = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000)
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook({ secret: key, id, timestamp, body }),
  }
}
