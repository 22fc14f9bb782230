import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCreditLedger } from '../credits/createCreditLedger.js'
import { x402Middleware } from '../express/x402Middleware.js'
import { createSqliteUsageStore } from '../keys/createSqliteUsageStore.js'
import { plans } from '../keys/plans.js'
import type { UsageEvent } from '../keys/types.js'
import type { PaywallOptions } from '../paywall/types.js'

// The export of usage and credit over HTTP, behind a real Express server: usage events and
// credit movements written at known times in real SQLite stores, then the period exported as
// CSV and as CloudEvents, compared line by line.
const dir = mkdtempSync(join(tmpdir(), '402x-admin-export-'))
const closers: (() => Promise<unknown>)[] = []
const at = (day: number, hour: number) => Date.UTC(2026, 11, day, hour)
let clock = at(1, 0)
const usage = createSqliteUsageStore({ path: join(dir, 'ledger.db') })
const credits = createCreditLedger({ path: join(dir, 'ledger.db'), now: () => clock })
const asset = '0x2222222222222222222222222222222222222222'
const served = (overrides: Partial<UsageEvent>): UsageEvent => ({
  keyId: 'key_alice',
  route: 'GET /api/data',
  units: 1,
  amount: 10_000n,
  asset,
  status: 200,
  at: at(6, 12),
  requestId: 'req_1',
  ...overrides,
})
let url = ''

beforeAll(async () => {
  await usage.record([
    served({
      requestId: 'req_2',
      at: at(7, 9),
      keyId: 'key_bob',
      route: 'POST /api/chat',
      units: 250,
      amount: 2_500_000n,
    }),
    served({}),
    // A route a spreadsheet would run as a formula, and one outside the period.
    served({ requestId: 'req_3', at: at(8, 10), route: '=HYPERLINK("http://evil")', amount: 0n, status: 429 }),
    served({ requestId: 'req_old', at: Date.UTC(2026, 10, 30, 23) }),
  ])
  await credits.grant({ account: 'acct_a', amount: 1_000_000n, ref: 'g-1' })
  clock = at(6, 13)
  const held = await credits.reserve({ account: 'acct_a', amount: 300_000n, ttlMs: 60_000, ref: 'res-1' })
  if (!held.ok) throw new Error('reservation refused')
  await credits.capture({ reservationId: held.reservationId, amount: 200_000n })
  clock = at(7, 14)
  await credits.tab([{ account: 'acct_a', amount: 30_000n }])
  clock = at(9, 15)
  await credits.refund({ account: 'acct_a', amount: 20_000n, ref: 'r-1', reason: '=1+1, not delivered' })
  const app = express()
  const middleware = x402Middleware({
    payTo: '0x1111111111111111111111111111111111111111',
    network: 'eip155:31337',
    asset: { address: asset, eip712: { name: 'USDC', version: '2' } },
    facilitator: 'http://127.0.0.1:9',
    ledger: join(dir, 'ledger.db'),
    reconcileIntervalMs: 0,
    routes: { 'GET /api/data': 0.01 },
    keys: { plans: [plans.free()], usage },
    stores: { credits },
  } as PaywallOptions)
  app.use(middleware)
  const server: Server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(
    () => new Promise((resolve) => server.close(resolve)),
    () => middleware.paywall.close(),
    () => usage.close(),
    () => credits.close(),
  )
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  for (const close of closers) await close().catch(() => {})
  rmSync(dir, { recursive: true, force: true })
})

const exported = async (query: string) => {
  const response = await fetch(`${url}/__402x/admin/export?from=2026-12-01&to=2027-01-01&${query}`)
  return { status: response.status, headers: response.headers, text: await response.text() }
}

describe('admin export of usage and credit', () => {
  it('exports the usage of the period as CSV: a header, one line per served call, oldest first, no formula', async () => {
    const { status, headers, text } = await exported('kind=usage&format=csv')
    expect(status).toBe(200)
    expect(headers.get('content-type')).toBe('text/csv; charset=utf-8')
    expect(headers.get('content-disposition')).toBe('attachment; filename="402x-usage-2026-12-01-2026-12-31.csv"')
    expect(text).toBe(
      [
        'request_id,at,key_id,route,units,amount,amount_atomic,asset,status',
        `req_1,2026-12-06T12:00:00.000Z,key_alice,GET /api/data,1,0.01,10000,${asset},200`,
        `req_2,2026-12-07T09:00:00.000Z,key_bob,POST /api/chat,250,2.5,2500000,${asset},200`,
        `req_3,2026-12-08T10:00:00.000Z,key_alice,"'=HYPERLINK(""http://evil"")",1,0,0,${asset},429`,
        '',
      ].join('\r\n'),
    )
  })

  it('exports the usage as CloudEvents lines, id the requestId, subject the key; one key with key=', async () => {
    const { status, headers, text } = await exported('kind=usage&format=cloudevents&key=key_bob')
    expect(status).toBe(200)
    expect(headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8')
    expect(text.split('\n').map((line) => (line ? JSON.parse(line) : line))).toEqual([
      {
        specversion: '1.0',
        id: 'req_2',
        source: `${url}/__402x`,
        type: 'dev.402x.usage.recorded',
        time: '2026-12-07T09:00:00.000Z',
        subject: 'key_bob',
        datacontenttype: 'application/json',
        data: {
          requestId: 'req_2',
          keyId: 'key_bob',
          route: 'POST /api/chat',
          units: 250,
          amount: '2.5',
          amountAtomic: '2500000',
          asset,
          status: 200,
        },
      },
      '',
    ])
    const all = await exported('kind=usage&format=cloudevents')
    expect(
      all.text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).id),
    ).toEqual(['req_1', 'req_2', 'req_3'])
  })

  it('exports the credit spent and refunded, tabs posted first, as CSV and CloudEvents', async () => {
    const csv = await exported('kind=credit')
    expect(csv.status).toBe(200)
    const lines = csv.text.split('\r\n')
    expect(lines[0]).toBe('id,created_at,kind,account,amount,amount_atomic,ref,transaction_id,note')
    // The charge was still on its tab: the export posted it, at the time of the export.
    expect(lines.slice(1).map((line) => line.split(',').slice(1, 7))).toEqual([
      ['2026-12-06T13:00:00.000Z', 'capture', 'acct_a', '0.2', '200000', expect.stringMatching(/^rsv_/)],
      ['2026-12-09T15:00:00.000Z', 'refund', 'acct_a', '-0.02', '-20000', 'r-1'],
      ['2026-12-09T15:00:00.000Z', 'charge', 'acct_a', '0.03', '30000', expect.stringMatching(/^tab_/)],
      [],
    ])
    // A note a spreadsheet would run is quoted and disarmed.
    expect(lines[2]).toMatch(/,"'=1\+1, not delivered"$/)
    expect(lines[3]).toMatch(/,1 charge$/)
    const events = await exported('kind=credit&format=cloudevents')
    const parsed = events.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(parsed.map((e) => [e.id, e.type, e.subject, e.data.amount])).toEqual([
      [lines[1]?.split(',')[0], 'dev.402x.credit.capture', 'acct_a', '0.2'],
      [lines[2]?.split(',')[0], 'dev.402x.credit.refund', 'acct_a', '-0.02'],
      [lines[3]?.split(',')[0], 'dev.402x.credit.charge', 'acct_a', '0.03'],
    ])
    expect(parsed[1]).toMatchObject({
      specversion: '1.0',
      id: expect.stringMatching(/^credit_entry_\d+$/),
      source: `${url}/__402x`,
      time: '2026-12-09T15:00:00.000Z',
      data: { kind: 'refund', account: 'acct_a', amountAtomic: '-20000', ref: 'r-1', note: '=1+1, not delivered' },
    })
    // A second export of the same period gives the same ids: a re-import counts each once.
    expect((await exported('kind=credit&format=cloudevents')).text).toBe(events.text)
  })

  it('exports everything as CloudEvents with kind=all, and refuses what does not fit by name', async () => {
    const all = await exported('kind=all&format=cloudevents')
    expect(all.status).toBe(200)
    const types = all.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).type)
    expect(types).toEqual([
      'dev.402x.usage.recorded',
      'dev.402x.usage.recorded',
      'dev.402x.usage.recorded',
      'dev.402x.credit.capture',
      'dev.402x.credit.refund',
      'dev.402x.credit.charge',
    ])
    const refusals = await Promise.all(
      [
        'kind=all&format=csv',
        'kind=calls',
        'kind=usage&payer=0x1111111111111111111111111111111111111111',
        'key=key_bob',
      ].map((query) => exported(query)),
    )
    expect(refusals.map((r) => [r.status, JSON.parse(r.text).message])).toEqual([
      [400, expect.stringContaining('kind=all is CloudEvents only')],
      [400, 'kind is "calls": give payments, usage, credit, all'],
      [400, expect.stringContaining('payer filters payments')],
      [400, 'key filters usage: give kind=usage with it'],
    ])
  })
})
