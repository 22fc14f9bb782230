import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { createPostgresLedger } from '../../packages/api/src/ledger/createPostgresLedger.js'
import { newPayment } from '../../packages/api/src/ledger/newPayment.fixture.js'
import { freshSchema, postgresUrlOrSkip } from '../helpers/services.js'

// The recovery lease outlives an instance SIGKILLed while holding it (nothing in the database
// is rolled back by its death), and once it has run out another instance takes the payments
// over. Needs `npm run build` (the child runs the built ledger).
const databaseUrl = await postgresUrlOrSkip()
const claimer = fileURLToPath(new URL('../fixtures/ledger-lease/claim.mjs', import.meta.url))
const unfinished = ['verified', 'settling', 'pending'] as const
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.skipIf(!databaseUrl)('the recovery lease on PostgreSQL', () => {
  it('is held past its holder being SIGKILLed, then another instance claims the payments', async () => {
    const schema = await freshSchema(databaseUrl as string)
    const ledger = createPostgresLedger({ url: schema.url })
    let child: ChildProcess | undefined
    try {
      const payments = [newPayment(), newPayment(), newPayment()]
      for (const p of payments) await ledger.insert(p)
      const claiming = spawn(process.execPath, [claimer], {
        env: { ...process.env, URL: schema.url, LEASE_MS: '3000' },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      child = claiming
      const said = await new Promise<string>((resolve, reject) => {
        const bound = setTimeout(() => reject(new Error('the claiming instance said nothing within 20 s')), 20_000)
        claiming.stdout.on('data', (chunk: Buffer) => {
          clearTimeout(bound)
          resolve(chunk.toString().trim())
        })
        claiming.once('exit', (code) => reject(new Error(`the claiming instance exited (${code})`)))
      })
      expect(said).toBe('claimed 3')
      const exited = new Promise((resolve) => claiming.once('exit', resolve))
      claiming.kill('SIGKILL')
      await exited
      // Its lease is still running: no one else takes its payments yet.
      expect(await ledger.claimStale(unfinished, Date.now() + 60_000, 'survivor', 60_000)).toEqual([])
      // Then it runs out, and the survivor holds them all (polled, bounded).
      let taken: string[] = []
      for (let i = 0; i < 100 && taken.length === 0; i++) {
        await sleep(200)
        taken = (await ledger.claimStale(unfinished, Date.now() + 60_000, 'survivor', 60_000)).map((r) => r.id)
      }
      expect(taken.sort()).toEqual(payments.map((p) => p.id).sort())
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await ledger.close()
      await schema.drop()
    }
  })
})
