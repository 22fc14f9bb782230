import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The CLI as users run it, from the build. */
export const cliBin = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url))

/** What `402x dev --json` prints when ready. */
export type DevReady = {
  pid: number
  rpcUrl: string
  chainId: number
  network: string
  asset: string
  facilitatorUrl: string
  apiUrl: string
  payTo: string
  buyerPrivateKey: string
  /** The demo API's admin token (also in its .402x/dev.json). */
  adminToken: string
}

export type DevProcess = {
  ready: DevReady
  child: ChildProcess
  /** The folder it runs in (its `.402x/` is there). */
  dir: string
  /** Everything it wrote to stderr so far. */
  stderr(): string
  /** Kills it (SIGKILL if SIGTERM is not enough) and removes its folder. */
  stop(): Promise<void>
}

/** Starts a real `402x dev --json` on free ports in a fresh folder. Always `stop()` it. */
export async function startDevProcess(
  ports: { chain?: number; facilitator?: number; api?: number } = {},
  more: { args?: string[]; env?: Record<string, string>; readyMs?: number } = {},
): Promise<DevProcess> {
  if (!existsSync(cliBin)) throw new Error(`${cliBin} is missing: run \`npm run build\` first`)
  const dir = mkdtempSync(join(tmpdir(), '402x-dev-'))
  const child = spawn(
    process.execPath,
    [
      cliBin,
      'dev',
      '--json',
      ...['--chain-port', String(ports.chain ?? 0)],
      ...['--facilitator-port', String(ports.facilitator ?? 0)],
      ...['--api-port', String(ports.api ?? 0)],
      ...(more.args ?? []),
      // Demo traffic would move the balances and ledgers the tests count: on only when asked.
      ...(more.args?.includes('--demo-traffic') ? [] : ['--no-demo-traffic']),
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...more.env } },
  )
  let stderr = ''
  child.stderr?.on('data', (d) => {
    stderr += d
  })
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const ready = await new Promise<DevReady>((resolve, reject) => {
      const readyMs = more.readyMs ?? 30_000
      const timer = setTimeout(() => reject(new Error(`402x dev was not ready in ${readyMs} ms: ${stderr}`)), readyMs)
      let out = ''
      child.stdout?.on('data', (d) => {
        out += d
        const line = out.split('\n')[0]
        if (out.includes('\n') && line) {
          clearTimeout(timer)
          resolve(JSON.parse(line))
        }
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`402x dev exited with ${code}: ${stderr}`))
      })
    })
    return { ready, child, dir, stderr: () => stderr, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
