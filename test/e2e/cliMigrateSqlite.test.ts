import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openSqlite } from '../../packages/api/src/ledger/openSqlite.js'
import { cliBin } from '../helpers/devProcess.js'

// `402x migrate` on SQLite, as users run it (the build): every store's schema, the analytics
// file's included, listed and applied once; a file an earlier release wrote is recorded
// without losing a row; a file a newer release wrote is refused with what to do.
const dir = mkdtempSync(join(tmpdir(), '402x-migrate-sqlite-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const run = (cwd: string, args: string[], env: Record<string, string> = {}) => {
  // The state folder is the one under `cwd`: no X402_STATE_DIR from the outside.
  const { X402_STATE_DIR: _stateDir, ...outside } = process.env
  const out = spawnSync(process.execPath, [cliBin, 'migrate', ...args], {
    cwd,
    env: { ...outside, X402_DATABASE_URL: '', ...env },
    encoding: 'utf8',
  })
  return { code: out.status, stdout: out.stdout, stderr: out.stderr }
}
type Answer = {
  url: string
  migrated: { component: string; from: number; to: number }[]
  versions: Record<string, number>
}
const tables = (path: string) => {
  const db = openSqlite(path)
  try {
    return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map(
      (t) => t.name,
    )
  } finally {
    db.close()
  }
}
const components = ['ledger', 'credits', 'keys', 'usage', 'events', 'analytics']

describe('402x migrate (SQLite)', () => {
  it('without a database, shows then applies every schema of the ledger in .402x/, analytics included', () => {
    const cwd = join(dir, 'default')
    mkdirSync(cwd)
    const status = run(cwd, ['--status', '--json'])
    expect(status.code, status.stderr).toBe(0)
    const before = JSON.parse(status.stdout) as Answer
    expect(before.migrated).toEqual([])
    expect(Object.keys(before.versions)).toEqual(components)
    expect(Object.values(before.versions).every((v) => v === 0)).toBe(true)
    // --status creates nothing.
    expect(existsSync(join(cwd, '.402x'))).toBe(false)

    const first = run(cwd, ['--json'])
    expect(first.code, first.stderr).toBe(0)
    const done = JSON.parse(first.stdout) as Answer
    expect(done.url).toBe(`sqlite:${join(cwd, '.402x', 'ledger.db')}`)
    expect(done.migrated.map((m) => m.component)).toEqual(components)
    expect(done.migrated.every((m) => m.from === 0 && m.to >= 1)).toBe(true)
    expect(done.versions).toMatchObject({ ledger: 3, credits: 2, keys: 1, usage: 2, events: 1, analytics: 1 })
    expect(tables(join(cwd, '.402x', 'ledger.db'))).toEqual(
      expect.arrayContaining([
        'payments',
        'webhook_events',
        'credit_transactions',
        'api_keys',
        'api_usage',
        'webhook_relay',
        'x402_schema',
      ]),
    )
    expect(tables(join(cwd, '.402x', 'ledger.analytics.db')).sort()).toEqual(['analytics_minutes', 'x402_schema'])

    const again = run(cwd, [])
    expect(again.code).toBe(0)
    expect(again.stderr).toMatch(/already up to date \(ledger 3, credits 2, keys 1, usage 2, events 1, analytics 1\)/)
  })

  it('takes the file from --database-url sqlite:… or X402_DATABASE_URL, and records an earlier release’s file without losing a row', () => {
    const path = join(dir, 'old', 'ledger.db')
    mkdirSync(join(dir, 'old'))
    // An analytics file as an earlier release made it: its table, no versions.
    const old = openSqlite(join(dir, 'old', 'ledger.analytics.db'))
    old.exec(`CREATE TABLE analytics_minutes (minute INTEGER NOT NULL, dim TEXT NOT NULL, key TEXT NOT NULL,
      outcome TEXT NOT NULL, requests INTEGER NOT NULL, amount TEXT NOT NULL, PRIMARY KEY (minute, dim, key, outcome)) WITHOUT ROWID`)
    old.exec(`INSERT INTO analytics_minutes VALUES (29000000, 'total', '', 'paid', 3, '30000')`)
    old.close()
    const byEnv = run(dir, ['--status'], { X402_DATABASE_URL: path })
    expect(byEnv.code).toBe(0)
    expect(byEnv.stderr).toMatch(/schemas: ledger 0, credits 0, keys 0, usage 0, events 0, analytics 0/)
    const applied = run(dir, ['--database-url', `sqlite:${path}`, '--json'])
    expect(applied.code, applied.stderr).toBe(0)
    expect((JSON.parse(applied.stdout) as Answer).migrated).toContainEqual({ component: 'analytics', from: 0, to: 1 })
    const db = openSqlite(join(dir, 'old', 'ledger.analytics.db'))
    try {
      expect(db.prepare('SELECT requests, amount FROM analytics_minutes').all()).toEqual([
        { requests: 3, amount: '30000' },
      ])
      expect(db.prepare('SELECT component, version FROM x402_schema').all()).toEqual([
        { component: 'analytics', version: 1 },
      ])
    } finally {
      db.close()
    }
  })

  it('refuses a file a newer release migrated, and says what to do', () => {
    const path = join(dir, 'newer', 'ledger.db')
    expect(run(dir, ['--database-url', path]).code).toBe(0)
    const db = openSqlite(join(dir, 'newer', 'ledger.analytics.db'))
    db.exec(
      `INSERT INTO x402_schema (component, version, name, applied_at) VALUES ('analytics', 7, 'from the future', 0)`,
    )
    db.close()
    const newer = run(dir, ['--database-url', path])
    expect(newer.code).toBe(1)
    expect(newer.stderr).toMatch(
      /analytics schema is at version 7, newer than this 402x knows \(1\).*does not migrate down/,
    )
  })
})
