import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliBin } from '../helpers/devProcess.js'
import { freshSchema, postgresUrlOrSkip } from '../helpers/services.js'

// The CLI on PostgreSQL, as users run it (the build). `402x migrate`: every store's schema
// applied once, the versions shown, the URL taken from the flag, the environment or
// 402x.config.json, and a database migrated by a newer release refused with what to do.
// `402x credits`: grants and balances in the database that the instances share.
const databaseUrl = await postgresUrlOrSkip()

describe.skipIf(!databaseUrl)('402x migrate', () => {
  let schema: Awaited<ReturnType<typeof freshSchema>>
  const dir = mkdtempSync(join(tmpdir(), '402x-migrate-'))
  const cli = (args: string[], env: Record<string, string> = {}) => {
    const out = spawnSync(process.execPath, [cliBin, ...args], {
      cwd: dir,
      env: { ...process.env, X402_DATABASE_URL: '', ...env },
      encoding: 'utf8',
    })
    return { code: out.status, stdout: out.stdout, stderr: out.stderr }
  }
  const run = (args: string[], env: Record<string, string> = {}) => cli(['migrate', ...args], env)
  beforeAll(async () => {
    schema = await freshSchema(databaseUrl as string)
  })
  afterAll(async () => {
    await schema?.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('applies every schema once, then says it is up to date', () => {
    const first = run(['--database-url', schema.url, '--json'])
    expect(first.code).toBe(0)
    const done = JSON.parse(first.stdout) as {
      migrated: { component: string; from: number }[]
      versions: Record<string, number>
    }
    expect(done.migrated.map((m) => m.component).sort()).toEqual(
      ['analytics', 'coordination', 'credits', 'events', 'keys', 'ledger', 'ratelimit', 'usage'].sort(),
    )
    expect(done.migrated.every((m) => m.from === 0)).toBe(true)
    expect(Object.values(done.versions).every((v) => v >= 1)).toBe(true)
    const again = run(['--database-url', schema.url])
    expect(again.code).toBe(0)
    expect(again.stderr).toMatch(/already up to date \(ledger \d+, credits \d+/)
  })

  it('takes the URL from X402_DATABASE_URL, or 402x.config.json, and --status only reads', () => {
    const fromEnv = run(['--status', '--json'], { X402_DATABASE_URL: schema.url })
    expect(fromEnv.code).toBe(0)
    expect(JSON.parse(fromEnv.stdout)).toMatchObject({ migrated: [] })
    writeFileSync(join(dir, '402x.config.json'), JSON.stringify({ databaseUrl: schema.url }))
    try {
      const fromFile = run(['--status'])
      expect(fromFile.code).toBe(0)
      expect(fromFile.stderr).toMatch(/schemas: ledger \d+/)
    } finally {
      rmSync(join(dir, '402x.config.json'))
    }
  })

  it('402x credits grant and balance work on the PostgreSQL ledger named by X402_DATABASE_URL', async () => {
    const env = { X402_DATABASE_URL: schema.url }
    const granted = cli(['credits', 'grant', '0.25', '--ref', 'pg-grant', '--json'], env)
    expect(granted.code).toBe(0)
    const { token } = JSON.parse(granted.stdout) as { token: string }
    expect(token).toMatch(/^x402c_/)
    // The same ref again grants nothing more (idempotent by ref), on the database too.
    expect(cli(['credits', 'grant', '0.25', '--ref', 'pg-grant', '--json'], env).code).toBe(0)
    const balance = cli(['credits', 'balance', '--token', token, '--json'], env)
    expect(balance.code).toBe(0)
    expect(JSON.parse(balance.stdout)).toMatchObject({ balance: { available: '0.25', reserved: '0' } })
    const sql = postgres(schema.url, { max: 1, onnotice: () => {} })
    try {
      expect(await sql`select kind, ref, amount::text from x402_credit_transactions`).toEqual([
        { kind: 'grant', ref: 'pg-grant', amount: '250000' },
      ])
    } finally {
      await sql.end({ timeout: 1 })
    }
  })

  it('lists the analytics schema before it is applied, and creates its table', async () => {
    const other = await freshSchema(databaseUrl as string)
    const sql = postgres(other.url, { max: 1, onnotice: () => {} })
    try {
      const before = run(['--database-url', other.url, '--status', '--json'])
      expect(before.code).toBe(0)
      expect(JSON.parse(before.stdout).versions).toMatchObject({ analytics: 0, ledger: 0 })
      const [missing] = await sql`select to_regclass('x402_analytics_minutes')::text as t`
      expect(missing?.t).toBeNull()
      const applied = run(['--database-url', other.url, '--json'])
      expect(applied.code).toBe(0)
      expect(JSON.parse(applied.stdout).migrated).toContainEqual({ component: 'analytics', from: 0, to: 1 })
      const [made] = await sql`select to_regclass('x402_analytics_minutes')::text as t`
      expect(made?.t).toBe('x402_analytics_minutes')
      expect(run(['--database-url', other.url, '--status']).stderr).toMatch(/analytics 1/)
    } finally {
      await sql.end({ timeout: 1 })
      await other.drop()
    }
  })

  it('with a database a newer release migrated, stops with what to do', async () => {
    const sql = postgres(schema.url, { max: 1, onnotice: () => {} })
    try {
      await sql`insert into x402_schema (component, version, name) values ('ledger', 99, 'from the future')`
    } finally {
      await sql.end({ timeout: 1 })
    }
    const newer = run(['--database-url', schema.url])
    expect(newer.code).toBe(1)
    expect(newer.stderr).toMatch(/ledger schema is at version 99, newer than this 402x knows .* does not migrate down/)
  })
})
