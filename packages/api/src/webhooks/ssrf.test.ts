import { hostname } from 'node:os'
import { afterAll, describe, expect, it } from 'vitest'
import { call } from '../admin/adminTestPaywalls.js'
import { checkWebhookUrl, isInternalAddress } from './checkWebhookUrl.js'
import { postWebhook } from './postWebhook.js'
import { generateWebhookSecret } from './signWebhook.js'
import { webhookPaywalls } from './webhookPaywalls.fixture.js'

// The SSRF guard: private, loopback and link-local hosts refused outside the local chain,
// at registration (code, admin API) and at delivery, after DNS resolution.
const paywalls = webhookPaywalls()
afterAll(() => paywalls.close())
const secret = generateWebhookSecret()
const base = { network: 'eip155:8453' }

describe('webhook URLs (SSRF)', () => {
  it('knows internal addresses', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:10.0.0.1',
      '0.0.0.0',
      // An IPv4 address inside an IPv6 one, however it is written: WHATWG URLs write
      // [::ffff:127.0.0.1] as [::ffff:7f00:1].
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      '0:0:0:0:0:ffff:127.0.0.1',
      '::127.0.0.1',
      '::ffff:0:7f00:1',
      '64:ff9b::a9fe:a9fe',
      '64:ff9b::10.0.0.1',
      '64:ff9b:1::1',
      '2002:7f00:1::1',
      '2001:0:4136:e378::1',
      '2001:db8::1',
      'fe80::1%eth0',
      'FE80::1',
      'fec0::1',
      'ff02::1',
      '::',
      'not-an-address',
    ])
      expect(isInternalAddress(a), a).toBe(true)
    for (const a of [
      '8.8.8.8',
      '1.1.1.1',
      '2606:4700:4700::1111',
      '172.32.0.1',
      '::ffff:808:808',
      '64:ff9b::808:808',
      '2002:808:808::1',
    ])
      expect(isInternalAddress(a), a).toBe(false)
  })

  it('refuses an IPv4-mapped loopback or metadata address in any IPv6 spelling', async () => {
    for (const url of [
      'https://[::ffff:127.0.0.1]:9/hooks',
      'https://[::ffff:7f00:1]:9/hooks',
      'https://[::ffff:a9fe:a9fe]/latest',
      'https://[64:ff9b::a9fe:a9fe]/latest',
    ]) {
      await expect(checkWebhookUrl(url, false), url).rejects.toThrow(/private, loopback or link-local/)
      const refused = await postWebhook({ url, headers: {}, body: '{}', timeoutMs: 2_000, localChain: false })
      expect(refused, url).toMatchObject({ ok: false, error: expect.stringMatching(/private, loopback or link-local/) })
    }
  })

  it('refuses a private or loopback webhook in code at start-up, outside the local chain', () => {
    for (const url of [
      'https://127.0.0.1/hooks',
      'https://localhost:8443/hooks',
      'https://[::1]/hooks',
      'https://169.254.169.254/latest',
    ])
      expect(() => paywalls.make({ ...base, webhooks: [{ url, events: ['*'], secret }] }), url).toThrow(
        /private, loopback or link-local/,
      )
    expect(() =>
      paywalls.make({ ...base, webhooks: [{ url: 'http://example.com/hooks', events: ['*'], secret }] }),
    ).toThrow(/https:\/\//)
    expect(() =>
      paywalls.make({
        ...base,
        webhooks: [{ url: 'https://example.com/hooks', events: ['payment.paid' as never], secret }],
      }),
    ).toThrow(/events must be/)
    expect(() =>
      paywalls.make({ ...base, webhooks: [{ url: 'https://example.com/hooks', events: ['*'], secret: 'hunter2' }] }),
    ).toThrow(/whsec_/)
  })

  it('allows local receivers on the local chain', () => {
    expect(() =>
      paywalls.make({ webhooks: [{ url: 'http://127.0.0.1:9/hooks', events: ['*'], secret }] }),
    ).not.toThrow()
  })

  it('refuses a host that resolves to an internal address (after DNS), at registration and at delivery', async () => {
    // The machine's own name resolves (from /etc/hosts) to a loopback or private address.
    const host = hostname()
    await expect(checkWebhookUrl(`https://${host}/hooks`, false)).rejects.toThrow(
      /resolves to .*private, loopback or link-local/,
    )
    const refused = await postWebhook({
      url: `https://${host}:9/hooks`,
      headers: {},
      body: '{}',
      timeoutMs: 2_000,
      localChain: false,
    })
    expect(refused).toMatchObject({
      ok: false,
      error: expect.stringMatching(/resolves to .*private, loopback or link-local/),
    })

    const paywall = paywalls.make({ ...base, ledger: `${paywalls.dir}/base.db`, adminToken: 'admin-token-for-tests' })
    const added = await call(paywall, 'POST', '/__402x/admin/webhooks', {
      token: 'admin-token-for-tests',
      body: { url: `https://${host}/hooks`, events: ['payment.settled'] },
    })
    expect(added.status).toBe(400)
    expect(added.json).toMatchObject({ reason: 'webhook_url_refused' })
    expect(String(added.json.message)).toMatch(/resolves to .*private/)
  })
})
