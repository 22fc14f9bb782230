import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { checkPaywallOptions } from '../config/checkPaywallOptions.js'
import { readConfigFile } from '../config/resolveConfig.js'
import { paywallWebhooks } from './paywallWebhooks.js'
import { generateWebhookSecret } from './signWebhook.js'

// Webhooks from 402x.config.json and the option rules of `webhooks` in code.
const dir = mkdtempSync(join(tmpdir(), '402x-webhook-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const secret = generateWebhookSecret()

describe('webhook settings', () => {
  it('reads webhooks from 402x.config.json, the secret from the variable secretEnv names', () => {
    writeFileSync(
      join(dir, '402x.config.json'),
      JSON.stringify({ webhooks: [{ url: 'https://example.com/hooks', events: ['*'], secretEnv: 'MY_HOOK_SECRET' }] }),
    )
    const file = readConfigFile(dir)
    const { fixed } = paywallWebhooks({}, file, { MY_HOOK_SECRET: secret }, 'eip155:8453')
    expect(fixed).toMatchObject([{ url: 'https://example.com/hooks', events: ['*'], source: 'config', secret }])
    // The same id at every start: deliveries of earlier runs stay its own.
    expect(paywallWebhooks({}, file, { MY_HOOK_SECRET: secret }, 'eip155:8453').fixed[0]?.id).toBe(fixed[0]?.id)
    expect(() => paywallWebhooks({}, file, {}, 'eip155:8453')).toThrow(/MY_HOOK_SECRET is not set/)
  })

  it('refuses a config webhook of the wrong shape, saying what it should be', () => {
    writeFileSync(
      join(dir, '402x.config.json'),
      JSON.stringify({ webhooks: [{ url: 'https://example.com/h', events: ['*'], secret }] }),
    )
    expect(() => readConfigFile(dir)).toThrow(/"webhooks.0.secretEnv" is wrong.*"secretEnv": "X402_WEBHOOK_SECRET"/)
  })

  it('checks the webhooks option strictly', () => {
    expect(() =>
      checkPaywallOptions({ price: 0.01, webhooks: [{ url: 'https://example.com/h', event: ['*'], secret } as never] }),
    ).toThrow(/did you mean `events`/)
    expect(() => checkPaywallOptions({ price: 0.01, webhookDelivery: { timeoutMs: -1 } })).toThrow(
      /milliseconds above 0/,
    )
    expect(() =>
      paywallWebhooks(
        { webhookDelivery: { initialBackoffMs: 10_000, maxBackoffMs: 1_000 } },
        undefined,
        {},
        'eip155:8453',
      ),
    ).toThrow(/maxBackoffMs/)
    const twice = { url: 'https://example.com/h', events: ['*' as const], secret }
    expect(() => paywallWebhooks({ webhooks: [twice, twice] }, undefined, {}, 'eip155:8453')).toThrow(
      /registered twice/,
    )
  })
})
