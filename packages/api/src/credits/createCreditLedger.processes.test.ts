import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { audit, creditLedgerFiles } from './creditLedger.fixture.js'

const t = creditLedgerFiles()

const here = dirname(fileURLToPath(import.meta.url))

/**
 * Writes the ledger as plain ESM (Node 20 runs no TypeScript) and a child script that opens
 * the file, says `ready`, waits for a line on stdin, then makes `n` 1-unit reservations at once.
 */
function buildChild(out: string): string {
  const sources: Record<string, string> = {
    'credits/createCreditLedger.js': join(here, 'createCreditLedger.ts'),
    'credits/schema.js': join(here, 'schema.ts'),
    'credits/creditQueries.js': join(here, 'creditQueries.ts'),
    'credits/creditRows.js': join(here, 'creditRows.ts'),
    'credits/creditTokens.js': join(here, 'creditTokens.ts'),
    'credits/tokens.js': join(here, 'tokens.ts'),
    'credits/sqliteCreditAdmin.js': join(here, 'sqliteCreditAdmin.ts'),
    'credits/creditAdmin.js': join(here, 'creditAdmin.ts'),
    'ledger/openSqlite.js': join(here, '../ledger/openSqlite.ts'),
    'stores/sqliteSchema.js': join(here, '../stores/sqliteSchema.ts'),
    'credits/sqliteCreditTabs.js': join(here, 'sqliteCreditTabs.ts'),
    'webhooks/outboxId.js': join(here, '../webhooks/outboxId.ts'),
    'webhooks/sqliteStoreEvents.js': join(here, '../webhooks/sqliteStoreEvents.ts'),
    'webhooks/eventIds.js': join(here, '../webhooks/eventIds.ts'),
    'core.js': join(here, '../../../core/src/errors.ts'),
  }
  for (const [to, from] of Object.entries(sources)) {
    const { outputText } = ts.transpileModule(readFileSync(from, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    })
    mkdirSync(dirname(join(out, to)), { recursive: true })
    writeFileSync(join(out, to), outputText.replace("from '@402x/core'", "from '../core.js'"))
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}')
  writeFileSync(
    join(out, 'child.js'),
    `import { createCreditLedger } from './credits/createCreditLedger.js'
const [path, n] = process.argv.slice(2)
const ledger = createCreditLedger({ path })
process.stdout.write('ready\\n')
process.stdin.once('data', async () => {
  // Half reservations (metered requests), half tabs (the hot path's charges).
  const results = await Promise.all(
    Array.from({ length: Number(n) }, (_, i) =>
      i % 2
        ? ledger.reserve({ account: 'alice', amount: 1n, ttlMs: 60000 }).then((r) => (r.ok ? 'reserved' : 'no'))
        : ledger.tab([{ account: 'alice', amount: 1n }]).then(([ok]) => (ok ? 'tabbed' : 'no')),
    ),
  )
  await ledger.close()
  const count = (what) => results.filter((r) => r === what).length
  process.stdout.write('ok ' + (count('reserved') + count('tabbed')) + ' ' + count('reserved') + '\\n')
  process.stdin.destroy()
})
`,
  )
  // A writer tabs and posts for `n` ms; a reader reads the balance and counts each time the
  // available credit went up (it never should: nothing else credits the account).
  writeFileSync(
    join(out, 'tabs.js'),
    `import { createCreditLedger } from './credits/createCreditLedger.js'
const [path, role, n] = process.argv.slice(2)
const ledger = createCreditLedger({ path })
process.stdout.write('ready\\n')
process.stdin.once('data', async () => {
  const end = Date.now() + Number(n)
  let tabbed = 0, reads = 0, rose = 0, last
  for (let i = 1; Date.now() < end; i++) {
    if (role === 'reader') {
      const { available } = await ledger.balance('alice')
      reads++
      if (last !== undefined && available > last) rose++
      last = available
    } else {
      if ((await ledger.tab([{ account: 'alice', amount: 1n }]))[0]) tabbed++
      if (i % 3 === 0) await ledger.postTabs()
    }
  }
  await ledger.close()
  process.stdout.write('ok ' + tabbed + ' ' + reads + ' ' + rose + '\\n')
  process.stdin.destroy()
})
`,
  )
  return join(out, 'child.js')
}

/** The first match of `pattern` on a child's stdout, within `ms`. */
function waitFor(child: ChildProcessWithoutNullStreams, pattern: RegExp, ms: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`no ${pattern} from the child within ${ms} ms: ${out}`)), ms)
    const onData = (chunk: Buffer) => {
      out += chunk
      const match = out.match(pattern)
      if (match) {
        clearTimeout(timer)
        child.stdout.off('data', onData)
        resolve(match)
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the child exited (${code}) before ${pattern}: ${out}`))
    })
  })
}

describe('createCreditLedger: processes racing on one file', () => {
  it('lets exactly 50 through when four processes race on one file, reserving and tabbing', async () => {
    const seed = t.ledger()
    await seed.topUp({ account: 'alice', amount: 50n, ref: 'pay-1' })
    const script = buildChild(join(t.dir, 'child'))
    // The transpiled openSqlite resolves better-sqlite3 from outside the repository.
    const modules = dirname(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')))
    const children = Array.from({ length: 4 }, () =>
      spawn(process.execPath, [script, t.path, '50'], { env: { ...process.env, NODE_PATH: modules }, stdio: 'pipe' }),
    )
    try {
      await Promise.all(children.map((child) => waitFor(child, /ready\n/, 20_000)))
      const done = children.map((child) => waitFor(child, /ok (\d+) (\d+)\n/, 30_000))
      for (const child of children) child.stdin.write('go\n')
      const answers = await Promise.all(done)
      const sum = (i: number) => answers.reduce((total, match) => total + Number(match[i]), 0)
      expect(sum(1)).toBe(50)
      expect(await seed.balance('alice')).toEqual({ available: 0n, reserved: BigInt(sum(2)) })
      expect(await seed.postTabs()).toBe(BigInt(50 - sum(2)))
      audit(t.path)
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill()
    }
  })

  it('reads a balance from one snapshot while other processes tab and post: available credit never rises', async () => {
    const seed = t.ledger()
    await seed.topUp({ account: 'alice', amount: 1_000_000_000n, ref: 'pay-1' })
    buildChild(join(t.dir, 'child'))
    const script = join(t.dir, 'child', 'tabs.js')
    const modules = dirname(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')))
    const roles = ['writer', 'writer', 'reader']
    const children = roles.map((role) =>
      spawn(process.execPath, [script, t.path, role, '1500'], {
        env: { ...process.env, NODE_PATH: modules },
        stdio: 'pipe',
      }),
    )
    try {
      await Promise.all(children.map((child) => waitFor(child, /ready\n/, 20_000)))
      const done = children.map((child) => waitFor(child, /ok (\d+) (\d+) (\d+)\n/, 30_000))
      for (const child of children) child.stdin.write('go\n')
      const answers = await Promise.all(done)
      const tabbed = answers.reduce((sum, match) => sum + BigInt(match[1] as string), 0n)
      const [, , reads, rose] = answers[2] as RegExpMatchArray
      expect(tabbed).toBeGreaterThan(100n)
      expect(Number(reads)).toBeGreaterThan(100)
      expect(Number(rose)).toBe(0)
      expect(await seed.balance('alice')).toEqual({ available: 1_000_000_000n - tabbed, reserved: 0n })
      await seed.postTabs()
      expect(audit(t.path).balances.get('system:revenue')).toBe(tabbed)
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill()
    }
  })
})
