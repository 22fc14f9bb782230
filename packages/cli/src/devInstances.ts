import { type ChildProcess, fork } from 'node:child_process'
import { createServer } from 'node:net'
import type { InstanceConfig, InstanceReady } from './demoInstance.js'
import type { DemoKey } from './demoKeys.js'

/** The demo API instances of `402x dev --instances N`, each its own process. */
export type Instances = {
  urls: string[]
  pids: number[]
  demoKeys: DemoKey[]
  /** Stops every instance still running (SIGTERM, then SIGKILL after 3 s). */
  stop(): Promise<void>
}

const isFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer()
    probe.once('error', () => resolve(false))
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
  })

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })

/** `count` consecutive free ports from `base`, else from a free port the system picks. */
export async function consecutivePorts(base: number, count: number): Promise<number[]> {
  const run = (from: number) => Array.from({ length: count }, (_, i) => from + i)
  const allFree = async (ports: number[]) => (await Promise.all(ports.map(isFree))).every(Boolean)
  if (base !== 0 && (await allFree(run(base)))) return run(base)
  for (let attempt = 0; attempt < 20; attempt++) {
    const from = await freePort()
    if (from + count < 65_536 && (await allFree(run(from)))) return run(from)
  }
  throw new Error(`no ${count} consecutive free ports found for the demo API instances: free some, or use fewer`)
}

/**
 * Starts `count` demo API processes on consecutive ports (from `basePort`, or elsewhere
 * when one is busy), each with the same settings, and waits until all listen. The first
 * makes the demo keys. `onExit` hears of an instance that stops by itself later (the
 * others keep serving: that is what a load balancer sees). Instances exit when this
 * process goes away, since their IPC channel closes.
 */
export async function startInstances(options: {
  count: number
  basePort: number
  network: InstanceConfig['network']
  settings: InstanceConfig['settings']
  onExit: (index: number, pid: number, exit: { code: number | null; signal: string | null }) => void
}): Promise<Instances> {
  const ports = await consecutivePorts(options.basePort, options.count)
  const entry = new URL('./demoInstance.js', import.meta.url)
  const children: ChildProcess[] = []
  let stopping = false
  const stop = async () => {
    stopping = true
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
            child.once('exit', () => {
              clearTimeout(timer)
              resolve()
            })
            child.kill('SIGTERM')
          }),
      ),
    )
  }
  try {
    const ready = await Promise.all(
      ports.map((port, index) => {
        const config: InstanceConfig = {
          index,
          port,
          network: options.network,
          settings: options.settings,
          makeKeys: index === 0,
        }
        const child = fork(entry, [], {
          env: { ...process.env, X402_DEMO_INSTANCE: JSON.stringify(config) },
          stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
        })
        children.push(child)
        let stderr = ''
        child.stderr?.on('data', (chunk: Buffer) => {
          stderr = (stderr + chunk.toString()).slice(-4_000)
          process.stderr.write(chunk)
        })
        return new Promise<InstanceReady>((resolve, reject) => {
          let started = false
          child.once('message', (message) => {
            started = true
            resolve(message as InstanceReady)
          })
          child.once('exit', (code, signal) => {
            if (!started) {
              reject(
                new Error(
                  `demo API instance ${index} (port ${port}) stopped before it listened (${signal ?? `exit code ${code}`}): ${stderr.trim() || 'no output'}`,
                ),
              )
            } else if (!stopping) {
              options.onExit(index, child.pid ?? 0, { code, signal })
            }
          })
        })
      }),
    )
    return {
      urls: ports.map((port) => `http://127.0.0.1:${port}`),
      pids: ready.map((r) => r.pid),
      demoKeys: (ready[0]?.demoKeys as DemoKey[] | undefined) ?? [],
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
