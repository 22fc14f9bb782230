import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// The CLI runs from the build (`npm test` builds before Vitest), as users run it.
const bin = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url))
const run = promisify(execFile)

type Ready = {
  pid: number
  rpcUrl: string
  chainId: number
  network: string
  asset: string
  facilitatorUrl: string
  apiUrl: string
  payTo: string
  buyerPrivateKey: string
  endpoints: { method: string; path: string; price: string }[]
}

let dir: string
let child: ChildProcess | undefined
let ready: Ready

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run build\` first`)
  dir = mkdtempSync(join(tmpdir(), '402x-cli-'))
  child = spawn(
    process.execPath,
    [bin, 'dev', '--json', '--chain-port', '0', '--facilitator-port', '0', '--api-port', '0'],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let stderr = ''
  child.stderr?.on('data', (d) => {
    stderr += d
  })
  ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`402x dev was not ready in 30 s: ${stderr}`)), 30_000)
    let out = ''
    child?.stdout?.on('data', (d) => {
      out += d
      const line = out.split('\n')[0]
      if (out.includes('\n') && line) {
        clearTimeout(timer)
        resolve(JSON.parse(line))
      }
    })
    child?.once('exit', (code) => reject(new Error(`402x dev exited with ${code}: ${stderr}`)))
  })
})

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL')
  }
  rmSync(dir, { recursive: true, force: true })
})

describe('402x CLI', () => {
  it('402x dev --json prints one line with everything a machine needs', () => {
    expect(ready).toMatchObject({ chainId: 31337, network: 'eip155:31337' })
    expect(ready.buyerPrivateKey).toMatch(/^0x[0-9a-f]{64}$/)
    expect(ready.endpoints).toEqual([
      { method: 'POST', path: '/api/generate', price: '0.01' },
      { method: 'GET', path: '/api/market/:symbol', price: '0.001' },
      { method: 'POST', path: '/api/translate', price: '0.02' },
      { method: 'POST', path: '/api/image', price: 'width × height × steps / 1e6' },
      { method: 'POST', path: '/api/complete', price: '0.00015 per output token, at most 0.015' },
    ])
    expect(existsSync(join(dir, '.402x', 'dev.json'))).toBe(true)
  })

  it('serves the demo API’s docs and prices an image by its size', async () => {
    const docs = (await (await fetch(`${ready.apiUrl}/openapi.json`)).json()) as { paths: Record<string, unknown> }
    expect(Object.keys(docs.paths)).toEqual(
      expect.arrayContaining(['/api/generate', '/api/market/{symbol}', '/api/translate', '/api/image']),
    )
    const manifest = await fetch(`${ready.apiUrl}/.well-known/x402`)
    expect(manifest.status).toBe(200)
    const image = (body: unknown) =>
      fetch(`${ready.apiUrl}/api/image`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const quote = await image({ width: 512, height: 512, steps: 20 })
    expect(quote.status).toBe(402)
    expect(await quote.json()).toMatchObject({ price: '5.24288' })
    expect((await image({ width: 512 })).status).toBe(400)
  })

  it('402x pay pays the demo API with the dev buyer and prints the body and receipt', async () => {
    const { stdout } = await run(
      process.execPath,
      [bin, 'pay', `${ready.apiUrl}/api/translate`, '-d', '{"text":"Hello, world!","targetLang":"es"}', '--json'],
      {
        cwd: dir,
        timeout: 30_000,
      },
    )
    const result = JSON.parse(stdout)
    expect(result).toMatchObject({
      status: 200,
      data: { translation: '¡Hola, mundo!' },
      receipt: { amount: '20000', price: '0.02', payTo: ready.payTo, status: 'settled' },
    })
    expect(result.receipt.transaction).toMatch(/^0x[0-9a-f]{64}$/)
  })

  it('402x pay pays a per-token completion: the maximum up front, the rest returned as credit', async () => {
    const { stdout } = await run(
      process.execPath,
      [bin, 'pay', `${ready.apiUrl}/api/complete`, '-d', '{"prompt":"a cat"}', '--json'],
      { cwd: dir, timeout: 30_000 },
    )
    const result = JSON.parse(stdout)
    expect(result).toMatchObject({
      status: 200,
      data: { text: 'a cat … and that is how the story ends.', tokens: 10 },
      receipt: { amount: '15000', status: 'settled' },
      // 10 tokens × 150 charged, the rest kept as the caller's credit.
      credit: { reserved: '15000', captured: '1500', returned: '13500', balance: '13500' },
    })
    const account = await fetch(`${ready.apiUrl}/__402x/credits`, {
      headers: { authorization: `Bearer ${result.creditToken}` },
    })
    expect(((await account.json()) as { balance: object }).balance).toEqual({ available: '0.0135', reserved: '0' })
  })

  it('402x pay refuses over --max, before paying, with exit code 1', async () => {
    const error = await run(
      process.execPath,
      [bin, 'pay', `${ready.apiUrl}/api/generate`, '-d', '{"prompt":"x"}', '--max', '0.001'],
      {
        cwd: dir,
        timeout: 30_000,
      },
    ).catch((e) => e)
    expect(error.code).toBe(1)
    expect(error.stderr).toContain('would exceed maxPerRequest ($0.001): over by $0.009: pass --max 0.01 (or more)')
    expect(error.stderr).not.toContain('in the budget')
  })

  it('402x pay to a server that is not running names the address and what to do', async () => {
    const port = new URL(ready.apiUrl).port
    // A port just closed: nothing listens there.
    const probe = await import('node:net').then(
      (net) =>
        new Promise<number>((resolve) => {
          const server = net.createServer().listen(0, '127.0.0.1', () => {
            const p = (server.address() as { port: number }).port
            server.close(() => resolve(p))
          })
        }),
    )
    expect(String(probe)).not.toBe(port)
    const error = await run(process.execPath, [bin, 'pay', `http://127.0.0.1:${probe}/api/market/ETH`], {
      cwd: dir,
      timeout: 30_000,
    }).catch((e) => e)
    expect(error.code).toBe(1)
    expect(error.stderr).toContain(`cannot reach http://127.0.0.1:${probe} (connection refused`)
    expect(error.stderr).toContain('Is the server running?')
  })

  it('stops the API, the facilitator and the chain on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)))
    child?.kill('SIGTERM')
    expect(await exited).toBe(0)
    await expect(fetch(ready.rpcUrl, { method: 'POST', body: '{}' })).rejects.toThrow()
    await expect(fetch(ready.apiUrl)).rejects.toThrow()
    expect(existsSync(join(dir, '.402x', 'dev.json'))).toBe(false)
  })
})
