import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type DevState, DevStateSchema } from '@402x/core'
import type { Stack } from '../helpers/stack.js'

/** The examples run from their source, with `402x-api` and `402x-client` from the build, as users run them. */
export const examplesDir = fileURLToPath(new URL('../../examples/', import.meta.url))

/**
 * A folder where a `402x dev` on this stack appears to run: its `.402x/dev.json`, as the
 * CLI writes it, names this test process (alive while the tests run) as the dev's pid.
 */
export function devFolder(stack: Stack): string {
  const cwd = mkdtempSync(join(stack.dir, 'example-'))
  const state: DevState = DevStateSchema.parse({
    pid: process.pid,
    rpcUrl: stack.chain.rpcUrl,
    chainId: stack.chain.chainId,
    network: stack.chain.network,
    asset: stack.chain.usdc,
    eip712: stack.chain.eip712,
    facilitatorUrl: stack.facilitatorUrl,
    payTo: stack.chain.payTo.address,
    buyerPrivateKey: stack.chain.buyers[0]!.privateKey,
  })
  mkdirSync(join(cwd, '.402x'))
  writeFileSync(join(cwd, '.402x', 'dev.json'), `${JSON.stringify(state, null, 2)}\n`)
  return cwd
}

/** This process's environment without any 402x setting: the examples get theirs from dev.json alone. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('X402_') && key !== 'PORT') env[key] = value
  }
  return { ...env, ...extra }
}

export type RunningExample = {
  name: string
  /** The URL the example printed. */
  url: string
  cwd: string
  child: ChildProcess
  /** Everything it printed so far, for failure messages. */
  output(): string
}

/**
 * Starts `node examples/<name>/server.js` in `cwd` on a free port (`PORT=0`) and resolves
 * with the URL it prints; rejects if it exits first or prints nothing within `timeoutMs`.
 */
export function startExample(
  name: string,
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<RunningExample> {
  return startScript(join(examplesDir, name, 'server.js'), { ...options, name })
}

/**
 * Runs a Node script (an example, a test fixture) as a child, with only the `X402_*`
 * settings given, and resolves once it prints `… on http://…`.
 */
export function startScript(
  script: string,
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number; name?: string },
): Promise<RunningExample> {
  const name = options.name ?? basename(script)
  const child = spawn(process.execPath, [script], {
    cwd: options.cwd,
    env: cleanEnv({ PORT: '0', ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (d) => {
    out += d
  })
  child.stderr?.on('data', (d) => {
    out += d
  })
  const output = () => out
  return new Promise<RunningExample>((resolve, reject) => {
    const fail = (message: string) => {
      clearTimeout(timer)
      if (child.exitCode === null) child.kill('SIGKILL')
      reject(new Error(`${name}: ${message}\n${out}`))
    }
    const timer = setTimeout(
      () => fail(`printed no URL in ${options.timeoutMs ?? 20_000} ms`),
      options.timeoutMs ?? 20_000,
    )
    child.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before printing its URL`))
    child.stdout?.on('data', () => {
      const url = /on (http:\/\/\S+)/.exec(out)?.[1]
      if (!url) return
      clearTimeout(timer)
      child.removeAllListeners('exit')
      resolve({ name, url, cwd: options.cwd, child, output })
    })
  })
}

/**
 * Sends `signal` and resolves with the exit code; a child still running after `timeoutMs`
 * is killed and resolves `'killed'`.
 */
export function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = 5_000,
): Promise<number | 'killed' | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      resolve('killed')
    }, timeoutMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve(code)
    })
    child.kill(signal)
  })
}
