import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { createCreditLedger, createPaywall, type Paywall } from '402x-api'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { devFolder, startScript } from '../examples/startExample.js'
import { type Stack, startStack } from '../helpers/stack.js'

// A crash between reserve and capture: the seller process dies while a metered stream is
// running. Its reservation is neither lost nor charged: it expires and goes back.
let stack: Stack
let child: ChildProcess | undefined
const fixture = join(import.meta.dirname, '..', 'fixtures', 'credit-crash', 'server.mjs')

beforeAll(async () => {
  stack = await startStack()
}, 60_000)

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL')
  await stack?.stop()
})

/** Starts the seller child and resolves with its URL. */
async function startSeller(env: Record<string, string>): Promise<string> {
  const seller = await startScript(fixture, { cwd: devFolder(stack), env })
  child = seller.child
  return seller.url
}

it('releases the reservation of a request whose process crashed, and charges nothing', async () => {
  const options = stack.paywall()
  const env = { LEDGER: options.ledger, TTL_MS: '1500' }
  const operator = (): Paywall => createPaywall({ ...options, price: 0.01 })
  let paywall = operator()
  const { token } = await paywall.credits!.grant({ amount: 1, ref: 'crash-test' })
  await paywall.close()

  const url = await startSeller(env)
  const response = await fetch(`${url}/api/stream`, { headers: { authorization: `Bearer ${token}` } })
  expect(response.status).toBe(200)
  expect(response.headers.get('x-402x-reserved')).toBe('10000')
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  await reader.read() // the stream is running: the reservation is held in the ledger
  child?.kill('SIGKILL')
  await new Promise((resolve) => child?.once('exit', resolve))
  await reader.cancel().catch(() => {})

  paywall = operator()
  try {
    // Held, not charged, not lost.
    expect(await paywall.credits!.balance(token as string)).toEqual({ available: '0.99', reserved: '0.01' })
    await paywall.reconcile()
    // Before its expiry the reservation stays (the request might still be running elsewhere).
    expect((await paywall.credits!.balance(token as string))?.reserved).toBe('0.01')
    await new Promise((resolve) => setTimeout(resolve, 1600))
    await paywall.reconcile()
    expect(await paywall.credits!.balance(token as string)).toEqual({ available: '1', reserved: '0' })
    // Once only: a second recovery moves nothing.
    await paywall.reconcile()
    expect(await paywall.credits!.balance(token as string)).toEqual({ available: '1', reserved: '0' })
  } finally {
    await paywall.close()
  }
})

it('keeps the charges of answers served just before a crash: on the tab, posted by whoever comes next', async () => {
  const options = stack.paywall()
  const operator = createPaywall({ ...options, price: 0.01 })
  const { token } = await operator.credits!.grant({ amount: 1, ref: 'crash-tab' })
  await operator.close()
  const url = await startSeller({ LEDGER: options.ledger })
  const auth = { authorization: `Bearer ${token}` }
  for (let i = 0; i < 5; i++) expect((await fetch(`${url}/api/data`, { headers: auth })).status).toBe(200)
  // Killed at once: well before it posts its tab (a second after the first charge).
  child?.kill('SIGKILL')
  await new Promise((resolve) => child?.once('exit', resolve))

  const ledger = createCreditLedger({ path: options.ledger })
  const paywall = createPaywall({ ...options, price: 0.01 })
  try {
    // Every served answer is charged, once: the tab counts before it is posted…
    expect(await paywall.credits!.balance(token as string)).toEqual({ available: '0.995', reserved: '0' })
    const account = (await ledger.accountForToken(token as string)) as string
    // …and recovery (the paywall's reconcile, which any process runs) posts it, as one charge
    // for the five.
    await paywall.reconcile()
    expect(await ledger.postTabs(account)).toBe(0n)
    const charges = (await ledger.entries(account)).filter((e) => e.kind === 'charge')
    expect(charges.map((e) => [e.amount, e.note])).toEqual([[-5000n, '5 charges']])
    expect(await paywall.credits!.balance(token as string)).toEqual({ available: '0.995', reserved: '0' })
  } finally {
    await paywall.close()
    await ledger.close()
  }
})
