import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freshSchema, postgresUrlOrSkip } from '../../../../test/helpers/services.js'
import { ensureSchema, migrate, type SchemaComponent } from './migrate.js'
import { openPostgres, type Pg } from './openPostgres.js'

const databaseUrl = await postgresUrlOrSkip()

const v1: SchemaComponent = {
  component: 'widgets',
  migrations: [{ version: 1, name: 'create widgets', sql: 'create table widgets (id text primary key)' }],
}
const v2: SchemaComponent = {
  component: 'widgets',
  migrations: [
    ...v1.migrations,
    { version: 2, name: 'add size', sql: 'alter table widgets add column size integer not null default 0' },
  ],
}

describe.skipIf(!databaseUrl)('migrate (PostgreSQL)', () => {
  let schema: Awaited<ReturnType<typeof freshSchema>>
  let pools: { sql: Pg; release(): Promise<void> }[] = []
  const pool = () => {
    const opened = openPostgres(`${schema.url}&application_name=pool${pools.length}`, 'test')
    pools.push(opened)
    return opened.sql
  }
  beforeAll(async () => {
    schema = await freshSchema(databaseUrl as string)
  })
  afterAll(async () => {
    for (const p of pools) await p.release()
    pools = []
    await schema?.drop()
  })

  it('applies each version once, even when many instances start at once', async () => {
    const runs = await Promise.all([pool(), pool(), pool(), pool()].map((sql) => migrate(sql, [v1])))
    expect(runs.flat()).toEqual([{ component: 'widgets', from: 0, to: 1 }])
    const sql = pool()
    const upgraded = await migrate(sql, [v2])
    expect(upgraded).toEqual([{ component: 'widgets', from: 1, to: 2 }])
    const rows = await sql`select version, name from x402_schema where component = 'widgets' order by version`
    expect(rows.map((r) => r.version)).toEqual([1, 2])
    await sql`insert into widgets (id) values ('a')`
    expect((await sql`select size from widgets`)[0]?.size).toBe(0)
  })

  it('refuses a database migrated by a newer release, saying what to do', async () => {
    const sql = pool()
    await expect(migrate(sql, [v1])).rejects.toMatchObject({
      code: 'invalid_config',
      message: expect.stringMatching(/widgets schema is at version 2, newer than this 402x knows \(1\)/),
    })
  })

  it('rolls a failed migration back whole, and ensureSchema tries again after a failure', async () => {
    const sql = pool()
    const broken: SchemaComponent = {
      component: 'gadgets',
      migrations: [
        { version: 1, name: 'table', sql: 'create table gadgets (id text primary key)' },
        { version: 2, name: 'typo', sql: 'alter table gadgetz add column x integer' },
      ],
    }
    await expect(ensureSchema(sql, broken)).rejects.toThrow(/gadgetz/)
    expect((await sql`select to_regclass('gadgets') as t`)[0]?.t).toBeNull()
    const fixed: SchemaComponent = { component: 'gadgets', migrations: [broken.migrations[0] as never] }
    await expect(ensureSchema(sql, fixed)).resolves.toBeUndefined()
    expect((await sql`select to_regclass('gadgets') as t`)[0]?.t).not.toBeNull()
  })
})
