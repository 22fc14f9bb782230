// Server children: started with fork, stopped in `finally`, and killed on SIGINT/SIGTERM or
// exit so that a bench never leaves a process behind.
import { fork } from 'node:child_process'

const running = new Set()

/**
 * Forks a server script with `config` in `BENCH_CONFIG`, and resolves once it listens.
 * Bounded: rejects after `timeoutMs`, or when the child exits first (with its stderr).
 */
export async function startServer(script, config, timeoutMs = 20_000) {
  const child = fork(script, [], {
    env: { ...process.env, BENCH_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  running.add(child)
  let output = ''
  const keep = (chunk) => {
    output = (output + chunk).slice(-4000)
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const stop = async () => {
    running.delete(child)
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(timer)
  }
  try {
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${script} did not listen within ${timeoutMs} ms:\n${output}`)),
        timeoutMs,
      )
      child.on('message', (message) => {
        if (message?.type !== 'ready') return
        clearTimeout(timer)
        resolve(message.port)
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`${script} exited with code ${code} before listening:\n${output}`))
      })
    })
    return { port, pid: child.pid, stop, output: () => output }
  } catch (error) {
    await stop()
    throw error
  }
}

/** Kills every server still running (synchronous: usable from an `exit` handler). */
export function killAll(signal = 'SIGTERM') {
  for (const child of running) child.kill(signal)
}

/**
 * Runs `cleanup` then exits on SIGINT/SIGTERM, and kills the children on any exit.
 */
export function onInterrupt(cleanup) {
  process.on('exit', () => killAll())
  let interrupted = false
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      if (interrupted) return
      interrupted = true
      process.stderr.write(`\n${signal}: stopping servers and anvil\n`)
      const timer = setTimeout(() => process.exit(1), 8000)
      Promise.resolve(cleanup())
        .catch(() => {})
        .finally(() => {
          clearTimeout(timer)
          process.exit(signal === 'SIGINT' ? 130 : 143)
        })
    })
  }
}
