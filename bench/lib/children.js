// Server children: started with fork, stopped in `finally`, and killed on SIGINT/SIGTERM or
// exit so that a bench never leaves a process behind.
import { fork } from 'node:child_process'

/** Each running child, with its `stop`. */
const running = new Map()

/**
 * Forks a server script with `config` in `BENCH_CONFIG`, and resolves once it listens
 * (`ready`: the child's ready message, its port and whatever else it sent). Bounded: rejects after `timeoutMs`, or when the child exits first (with its stderr).
 */
export async function startServer(script, config, timeoutMs = 20_000) {
  // BENCH_CPU_PROF=<dir>: every child writes a V8 CPU profile there when it exits (to see
  // where a server's CPU goes; the profiler's own cost then inflates the figures).
  const profile = process.env.BENCH_CPU_PROF
  const child = fork(script, [], {
    env: { ...process.env, BENCH_CONFIG: JSON.stringify(config) },
    execArgv: [
      ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
      ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    ],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
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
  running.set(child, stop)
  try {
    const ready = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${script} did not listen within ${timeoutMs} ms:\n${output}`)),
        timeoutMs,
      )
      child.on('message', (message) => {
        if (message?.type !== 'ready') return
        clearTimeout(timer)
        resolve(message)
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`${script} exited with code ${code} before listening:\n${output}`))
      })
    })
    let probes = 0
    /** This child's own CPU time so far (user + system, µs), read inside it with `process.cpuUsage()`. */
    const cpu = () =>
      new Promise((resolve, reject) => {
        // Stopped already (an interrupt): a rejection, not an unhandled ERR_IPC_CHANNEL_CLOSED.
        if (!child.connected) return reject(new Error(`${script} has stopped: no CPU probe`))
        const id = ++probes
        const timer = setTimeout(() => {
          child.off('message', onMessage)
          reject(new Error(`${script} did not answer a CPU probe within 5 s`))
        }, 5000)
        const onMessage = (message) => {
          if (message?.type !== 'cpu' || message.id !== id) return
          clearTimeout(timer)
          child.off('message', onMessage)
          resolve(message.micros)
        }
        child.on('message', onMessage)
        child.send({ type: 'cpu', id }, (error) => {
          if (!error) return
          clearTimeout(timer)
          child.off('message', onMessage)
          reject(error)
        })
      })
    return { port: ready.port, ready, pid: child.pid, stop, cpu, output: () => output }
  } catch (error) {
    await stop()
    throw error
  }
}

/** Stops every server still running, and waits for them to exit. */
export async function stopAll() {
  await Promise.all([...running.values()].map((stop) => stop()))
}

/** Kills every server still running (synchronous: usable from an `exit` handler). */
export function killAll(signal = 'SIGTERM') {
  for (const child of running.keys()) child.kill(signal)
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
