import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

// What a new user runs right after `npm ci` on a fresh clone (CI runs on one): the README's
// `npx 402x …` needs the `402x` link that npm makes at install time. npm links a bin only if
// its file exists then, before `prepare` builds `dist/`, so the bin must be a committed file.
const root = fileURLToPath(new URL('../..', import.meta.url))
const run = promisify(execFile)

describe('the 402x command on a fresh clone', () => {
  it('is a committed launcher, not a build output', () => {
    const pkg = JSON.parse(readFileSync(`${root}/packages/cli/package.json`, 'utf8')) as { bin: Record<string, string> }
    const bin = pkg.bin['402x']
    expect(bin).toBeDefined()
    expect(bin).not.toMatch(/dist\//)
    expect(existsSync(`${root}/packages/cli/${bin}`)).toBe(true)
  })

  it('is linked as node_modules/.bin/402x by npm ci and runs --help', async () => {
    const link = `${root}/node_modules/.bin/402x`
    expect(existsSync(link), `${link} is missing: npm did not link the 402x bin at install time`).toBe(true)
    const { stdout } = await run(link, ['--help'], { cwd: root, timeout: 20_000 })
    expect(stdout).toContain('402x pay <url>')
  })

  it('runs as `npx 402x --help` from the repository root, as the README shows', async () => {
    const { stdout } = await run('npx', ['--no-install', '402x', '--help'], { cwd: root, timeout: 30_000 })
    expect(stdout).toContain('402x dev')
  })
})
