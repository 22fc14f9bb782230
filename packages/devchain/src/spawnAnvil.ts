import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

/**
 * Runs the target in a small Node watchdog. The watchdog kills it when our stdin closes,
 * which also happens when this process dies abruptly (SIGKILL, a crashed test worker),
 * so anvil is never left behind.
 */
const watchdog = `
const { spawn } = require('node:child_process')
const [bin, ...args] = process.argv.slice(1)
const child = spawn(bin, args, { stdio: ['ignore', 'inherit', 'inherit'] })
const stop = () => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  setTimeout(() => child.kill('SIGKILL'), 2000).unref()
}
process.stdin.on('end', stop)
process.stdin.on('error', stop)
process.stdin.resume()
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
child.on('error', (e) => { console.error(String(e)); process.exit(127) })
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)))
`

/** Locates the anvil binary that `@foundry-rs/anvil` ships for this platform. */
export function anvilBinary(): string {
  const require = createRequire(import.meta.url)
  const arch = process.arch === 'x64' ? 'amd64' : process.arch
  const platform = process.platform === 'win32' ? 'win32' : process.platform
  const pkg = `@foundry-rs/anvil-${platform}-${arch}`
  try {
    const root = dirname(require.resolve(`${pkg}/package.json`))
    return join(root, 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil')
  } catch (cause) {
    throw new Error(
      `anvil is not installed for ${process.platform}-${process.arch}: expected the npm package ${pkg}. Run \`npm ci\` again, or install Foundry's anvil and pass \`anvilPath\`.`,
      { cause },
    )
  }
}

export type SpawnAnvilOptions = {
  /** Port to listen on. @default 0 (a free port) */
  port?: number
  /** Path to the anvil binary. @default the one from `@foundry-rs/anvil` */
  anvilPath?: string
  /** Extra anvil arguments. */
  args?: readonly string[]
  /** How long to wait for anvil to listen, in ms. @default 15000 */
  timeoutMs?: number
}

export type AnvilProcess = {
  rpcUrl: string
  port: number
  child: ChildProcess
  /** Stops anvil and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>
  /**
   * Resolves when anvil exits without `stop()` (killed, crashed): its exit code, or the
   * signal that ended it. Never resolves after `stop()`.
   */
  died: Promise<{ code: number | null; signal: string | null }>
}

const running = new Set<ChildProcess>()
let hooked = false

function hookProcessExit() {
  if (hooked) return
  hooked = true
  process.on('exit', () => {
    for (const child of running) child.kill('SIGTERM')
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = () => {
      for (const child of running) child.kill('SIGTERM')
      // Keep the default behaviour (exit) unless someone else handles the signal.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal)
        process.kill(process.pid, signal)
      }
    }
    // First in line, so it sees every other handler (a `once` handler is removed when it runs).
    process.prependListener(signal, onSignal)
  }
}

/**
 * Spawns anvil on 127.0.0.1 and resolves once it listens.
 *
 * @example
 * const anvil = await spawnAnvil()
 * try { console.log(anvil.rpcUrl) } finally { await anvil.stop() }
 */
export async function spawnAnvil(options: SpawnAnvilOptions = {}): Promise<AnvilProcess> {
  const bin = options.anvilPath ?? anvilBinary()
  const args = ['--host', '127.0.0.1', '--port', String(options.port ?? 0), ...(options.args ?? [])]
  const child = spawn(process.execPath, ['-e', watchdog, bin, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  running.add(child)
  hookProcessExit()
  let output = ''
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let stopped = false
  const died = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      if (!stopped) resolve({ code, signal })
    }),
  )
  const stop = async () => {
    stopped = true
    running.delete(child)
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.end()
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(timer)
    }
  }
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`anvil did not start within ${options.timeoutMs ?? 15000} ms:\n${output}`)),
        options.timeoutMs ?? 15000,
      )
      const onData = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-4000)
        const match = /Listening on [\d.]+:(\d+)/.exec(output)
        if (match?.[1]) {
          clearTimeout(timer)
          child.stdout?.removeListener('data', onData)
          resolve(Number(match[1]))
        }
      }
      child.stdout?.on('data', onData)
      child.stderr?.on('data', (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-4000)
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`anvil exited with code ${code} before listening:\n${output}`))
      })
    })
    // Keep draining output so anvil never blocks on a full pipe.
    child.stdout?.resume()
    child.stderr?.resume()
    child.unref()
    ;(child.stdout as { unref?: () => void } | null)?.unref?.()
    ;(child.stderr as { unref?: () => void } | null)?.unref?.()
    ;(child.stdin as { unref?: () => void } | null)?.unref?.()
    return { rpcUrl: `http://127.0.0.1:${port}`, port, child, stop, died }
  } catch (error) {
    await stop()
    throw error
  }
}
