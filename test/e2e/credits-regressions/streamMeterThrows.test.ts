import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..', '..')
const fixture = join(import.meta.dirname, 'fixtures', 'stream-meter-throws.mjs')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function start(env: Record<string, string>): { child: ChildProcess; ready: Promise<{ url: string; token: string }> } {
  const child = spawn(process.execPath, [fixture], { cwd: root, env: { ...process.env, ...env }, stdio: 'pipe' })
  let out = ''
  const ready = new Promise<{ url: string; token: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL:\n${out}`)), 20_000)
    child.stderr?.on('data', (d) => {
      out += d
    })
    child.stdout?.on('data', (d) => {
      out += d
      const m = /on (http:\/\/\S+) token (\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve({ url: m[1] as string, token: m[2] as string })
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`exited ${code}:\n${out}`))
    })
  })
  return { child, ready }
}

// serveMetered's res.write feeds the stream meter synchronously; a meter that throws on
// one event (createStreamMeter.eventUnits → countEvent) throws out of res.write into the
// handler. From a timer or an upstream 'data' listener that is an uncaught exception: the
// whole seller process exits, with every other request in flight. Buffered responses turn a
// failing meter into "500, nothing charged"; a stream should end with what was sent.
it('metered SSE: a meter that throws on one event ends that stream (charged for what was sent), the seller stays up', async () => {
  const dir = mkdtempSync(join(tmpdir(), '402x-credits-'))
  const { child, ready } = start({ LEDGER: join(dir, 'ledger.db') })
  let exitCode: number | null = null
  child.once('exit', (code) => {
    exitCode = code
  })
  try {
    const { url, token } = await ready
    const response = await fetch(`${url}/api/stream`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(5000),
    })
    expect(response.status).toBe(200)
    const text = await response.text().catch((e: Error) => `<${e.message}>`)
    await sleep(300)
    expect({ exitCode, alive: child.exitCode === null }).toEqual({ exitCode: null, alive: true })
    expect(text).toContain('"text":"hello"')
    expect(text).toContain('event: x402-receipt')
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
})
