import { type ChildProcess, spawn } from 'node:child_process'

/** A child process of the Python tests: its first matching stdout line, and its output. */
export type Child = {
  child: ChildProcess
  /** The stdout line it printed when ready. */
  ready: string
  output(): string
  /** SIGTERM, then SIGKILL after 5 s. Safe to call twice. */
  stop(): Promise<void>
}

/**
 * Starts a process and waits (at most `readyMs`) for a stdout line matching `ready`. It is
 * stopped if it does not get there; otherwise always `stop()` it.
 */
export async function startChild(
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; ready: RegExp; readyMs?: number; name: string },
): Promise<Child> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    await exited
    clearTimeout(timer)
  }
  try {
    const ready = await new Promise<string>((resolve, reject) => {
      const readyMs = options.readyMs ?? 30_000
      const timer = setTimeout(
        () => reject(new Error(`${options.name} was not ready in ${readyMs} ms:\n${output}`)),
        readyMs,
      )
      child.stderr?.on('data', (d) => {
        output += d
      })
      let out = ''
      child.stdout?.on('data', (d) => {
        output += d
        out += d
        const line = out.split('\n').find((l) => options.ready.test(l))
        if (line !== undefined && out.includes('\n')) {
          clearTimeout(timer)
          resolve(line)
        }
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`${options.name} exited with ${code}:\n${output}`))
      })
    })
    return { child, ready, output: () => output, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
