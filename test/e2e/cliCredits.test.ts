import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// The CLI runs from the build (`npm test` builds before Vitest), as operators run it.
const bin = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url))
const execFileAsync = promisify(execFile)

// The ledger is found from the folder alone, as an operator's shell would find it.
const env = { ...process.env }
delete env.X402_DATABASE_URL
delete env.X402_STATE_DIR

type Result = { code: number; stdout: string; stderr: string }

/** Runs `402x …` in `cwd`; a failure is a result with its exit code, not a throw. */
async function cli(cwd: string, ...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [bin, ...args], { cwd, env, timeout: 30_000 })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

const json = (result: Result) => {
  const lines = result.stdout.trimEnd().split('\n')
  expect(lines).toHaveLength(1)
  return JSON.parse(lines[0] as string)
}

let dir: string
let child: ChildProcess | undefined
let apiUrl: string

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run build\` first`)
  dir = mkdtempSync(join(tmpdir(), '402x-cli-credits-'))
  child = spawn(
    process.execPath,
    [bin, 'dev', '--json', '--chain-port', '0', '--facilitator-port', '0', '--api-port', '0'],
    { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr?.on('data', (d) => {
    stderr += d
  })
  apiUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`402x dev was not ready in 30 s: ${stderr}`)), 30_000)
    let out = ''
    child?.stdout?.on('data', (d) => {
      out += d
      const line = out.split('\n')[0]
      if (out.includes('\n') && line) {
        clearTimeout(timer)
        resolve(JSON.parse(line).apiUrl)
      }
    })
    child?.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`402x dev exited with ${code}: ${stderr}`))
    })
  })
})

afterAll(async () => {
  try {
    // SIGTERM, so that 402x dev stops its anvil too; SIGKILL if it has not exited in 10 s.
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child?.once('exit', () => resolve()))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child?.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

const market = (token: string) => fetch(`${apiUrl}/api/market/ETH`, { headers: { authorization: `Bearer ${token}` } })
const receiptOf = (response: Response) => JSON.parse(response.headers.get('x-402x-receipt') ?? 'null')

describe('402x credits', () => {
  let token: string
  let account: string

  it('grants a new account in the running 402x dev’s ledger, which spends it at once', async () => {
    const granted = await cli(dir, 'credits', 'grant', '0.001', '--note', 'welcome', '--json')
    expect(granted.code).toBe(0)
    const result = json(granted)
    expect(result).toMatchObject({ amount: '0.001', replayed: false, balance: { available: '0.001', reserved: '0' } })
    expect(result.token).toMatch(/^x402c_[A-Za-z0-9_-]{43}$/)
    expect(result.account).toMatch(/^acct_[0-9a-f-]{36}$/)
    expect(result.ref).toMatch(/^grant_/)
    expect(result.ledger).toBe(join(dir, '.402x', 'ledger.db'))
    token = result.token
    account = result.account

    const paid = await market(token)
    expect(paid.status).toBe(200)
    expect(((await paid.json()) as { symbol: string }).symbol).toBe('ETH')
    expect(receiptOf(paid)).toMatchObject({ captured: '1000', balance: '0', refund: 'credit' })
    // The server now holds this account's balance (0) in memory.
    const empty = await market(token)
    expect(empty.status).toBe(402)
    expect(receiptOf(empty)).toBeNull()
  })

  it('adds to an account by its token, and the running server spends it on the next request', async () => {
    const granted = await cli(dir, 'credits', 'grant', '$0.002', '--token', token, '--ref', 'support-42', '--json')
    expect(granted.code).toBe(0)
    expect(json(granted)).toMatchObject({
      account,
      amount: '0.002',
      ref: 'support-42',
      replayed: false,
      balance: { available: '0.002' },
    })
    expect(json(granted).token).toBeUndefined()

    // No wait: the server sees the other connection's write (SQLite data_version).
    const paid = await market(token)
    expect(paid.status).toBe(200)
    expect(receiptOf(paid)).toMatchObject({ captured: '1000', balance: '1000' })
  })

  it('grants once per --ref: a retry moves nothing, a different amount is refused', async () => {
    const retried = await cli(dir, 'credits', 'grant', '0.002', '--token', token, '--ref', 'support-42', '--json')
    expect(retried.code).toBe(0)
    expect(json(retried)).toMatchObject({ replayed: true, balance: { available: '0.001' } })

    const other = await cli(dir, 'credits', 'grant', '7', '--token', token, '--ref', 'support-42')
    expect(other.code).toBe(1)
    expect(other.stderr).toContain('--ref support-42 was already used for a grant of $0.002')
    expect(other.stdout).toBe('')
  })

  it('grants once per --ref without --token: the repeat reports the first account, replayed', async () => {
    const first = json(await cli(dir, 'credits', 'grant', '0.5', '--ref', 'welcome:bob', '--json'))
    expect(first).toMatchObject({ replayed: false, balance: { available: '0.5' } })
    expect(first.token).toMatch(/^x402c_/)
    const again = await cli(dir, 'credits', 'grant', '0.5', '--ref', 'welcome:bob', '--json')
    expect(again.code).toBe(0)
    expect(json(again)).toMatchObject({ account: first.account, replayed: true, balance: { available: '0.5' } })
    expect(json(again).token).toBeUndefined()
    const other = await cli(dir, 'credits', 'grant', '0.6', '--ref', 'welcome:bob')
    expect(other.code).toBe(1)
    expect(other.stderr).toContain('--ref welcome:bob was already used for a grant of $0.5')
  })

  it('balance shows the grants and the spends, newest first', async () => {
    const shown = await cli(dir, 'credits', 'balance', '--token', token, '--json')
    expect(shown.code).toBe(0)
    const result = json(shown)
    expect(result).toMatchObject({ account, balance: { available: '0.001', reserved: '0' } })
    type Entry = { kind: string; amount: string; account: string; ref: string; note?: string }
    const entries = result.entries as Entry[]
    expect(entries.every((e) => e.account === `caller:${account}`)).toBe(true)
    expect(
      entries.filter((e) => e.kind === 'grant').map((e) => [e.amount, e.ref.startsWith('grant_') || e.ref]),
    ).toEqual([
      ['0.002', 'support-42'],
      ['0.001', true],
    ])
    // The two spends: on the server's tab, posted (by the server within a second, or by this
    // listing) as one or two `charge` entries, each noting how many charges it covers.
    const charges = entries.filter((e) => e.kind === 'charge')
    expect(charges.reduce((sum, e) => sum + Math.round(Number(e.amount) * 1e6), 0)).toBe(-2000)
    expect(charges.reduce((sum, e) => sum + Number.parseInt(e.note ?? '', 10), 0)).toBe(2)
    expect(entries).toHaveLength(2 + charges.length)

    const limited = json(await cli(dir, 'credits', 'balance', '--token', token, '--limit', '1', '--json'))
    expect(limited.entries).toHaveLength(1)

    const text = await cli(dir, 'credits', 'balance', '--token', token)
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(account)
    expect(text.stdout).toContain('available  $0.001')
    expect(text.stdout).toContain('reserved   $0')
    expect(text.stdout).toMatch(/grant\s+\+\$0\.002\s+available\s+support-42/)
    expect(text.stdout).toMatch(/charge\s+-\$0\.00[12]\s+available\s+tab_\S+\s+\(\d charges?\)/)
  })

  it('prints a new token alone on stdout without --json, for scripts', async () => {
    const granted = await cli(dir, 'credits', 'grant', '1')
    expect(granted.code).toBe(0)
    expect(granted.stdout).toMatch(/^x402c_[A-Za-z0-9_-]{43}\n$/)
    expect(granted.stderr).toContain('granted $1 to new account acct_')
    expect(granted.stderr).toContain('shown once')
    const paid = await market(granted.stdout.trim())
    expect(paid.status).toBe(200)
    expect(receiptOf(paid)).toMatchObject({ balance: '999000' })
  })

  it('refuses a bad amount with a message and exit code 1', async () => {
    for (const [amount, message] of [
      ['abc', 'amount "abc" is not a valid amount: it is not a decimal number'],
      ['1.0000001', 'amount "1.0000001" is not a valid amount: it has more than 6 decimals'],
      ['0', 'amount is $0: grant more than 0 dollars'],
      ['-5', 'amount is -5: grant more than 0 dollars'],
      ['1000000000000', 'one grant gives at most $1,000,000'],
    ] as const) {
      const refused = await cli(dir, 'credits', 'grant', amount, '--token', token)
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain(message)
    }
    const asJson = await cli(dir, 'credits', 'grant', 'ten', '--json')
    expect(asJson.code).toBe(1)
    expect(json(asJson)).toMatchObject({ error: 'invalid_money', message: expect.stringContaining('"ten"') })
    // Nothing was granted by any of them.
    const after = json(await cli(dir, 'credits', 'balance', '--token', token, '--json'))
    expect(after.balance).toEqual({ available: '0.001', reserved: '0' })
  })

  it('refuses an unknown or malformed token with exit code 1', async () => {
    const unknown = `x402c_${'A'.repeat(43)}`
    const balance = await cli(dir, 'credits', 'balance', '--token', unknown)
    expect(balance.code).toBe(1)
    expect(balance.stderr).toContain(`this credit token is not known in ${join(dir, '.402x', 'ledger.db')}`)
    const grant = await cli(dir, 'credits', 'grant', '5', '--token', unknown, '--json')
    expect(grant.code).toBe(1)
    expect(json(grant)).toMatchObject({ error: 'invalid_request', message: expect.stringContaining('not known') })
    const malformed = await cli(dir, 'credits', 'balance', '--token', 'sk_live_123')
    expect(malformed.code).toBe(1)
    expect(malformed.stderr).toContain('is not a credit token')
    expect((await market(unknown)).status).toBe(401)
  })

  it('refuses a folder without a ledger rather than making one', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), '402x-cli-credits-empty-'))
    try {
      const granted = await cli(elsewhere, 'credits', 'grant', '5')
      expect(granted.code).toBe(1)
      expect(granted.stderr).toContain(`no ledger at ${join(elsewhere, '.402x', 'ledger.db')}`)
      expect(existsSync(join(elsewhere, '.402x'))).toBe(false)
      // A --ledger path with no ledger is not one a server reads: nothing is created there.
      const nowhere = join(elsewhere, 'no', 'such', 'dir', 'x.db')
      const astray = await cli(elsewhere, 'credits', 'grant', '5', '--ledger', nowhere)
      expect(astray.code).toBe(1)
      expect(astray.stderr).toContain(`no ledger at ${nowhere} (from --ledger)`)
      expect(existsSync(join(elsewhere, 'no'))).toBe(false)
      // --ledger names the running server's file from anywhere.
      const named = await cli(
        elsewhere,
        'credits',
        'balance',
        '--token',
        token,
        '--ledger',
        join(dir, '.402x', 'ledger.db'),
      )
      expect(named.code).toBe(0)
      expect(named.stdout).toContain('available  $0.001')
    } finally {
      rmSync(elsewhere, { recursive: true, force: true })
    }
  })
})
