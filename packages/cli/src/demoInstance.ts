// One demo API process of `402x dev --instances N` (started by devInstances.ts, never by
// hand): its settings come in X402_DEMO_INSTANCE; it answers on its port until its parent
// stops it (SIGTERM) or goes away (the IPC channel closes).
import { createServer } from 'node:http'
import { type Network, registerNetwork } from '@402x/core'
import { createDemoApi, demoPlans } from './demoApi.js'
import { ensureDemoKeys } from './demoKeys.js'

/** What the parent sends each instance. */
export type InstanceConfig = {
  index: number
  port: number
  network: Network
  settings: Parameters<typeof createDemoApi>[0]
  /** The first instance makes the demo keys (the stores are shared: once is enough). */
  makeKeys: boolean
}

/** What an instance reports once it listens (over IPC). */
export type InstanceReady = { ready: true; index: number; pid: number; port: number; demoKeys?: unknown }

const config = JSON.parse(process.env.X402_DEMO_INSTANCE ?? 'null') as InstanceConfig | null
if (!config) {
  process.stderr.write('demoInstance: run by `402x dev --instances N`, not by hand\n')
  process.exit(2)
}
registerNetwork(config.network)
const app = createDemoApi(config.settings)
// Room above 402x's own 16 KiB header limit, as the single-process `402x dev` has.
const server = createServer({ maxHeaderSize: 64 * 1024 }, app)
let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  server.closeAllConnections()
  server.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 2_000).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.on('disconnect', stop)
server.on('error', (error) => {
  process.stderr.write(`demo API instance ${config.index}: ${error.message}\n`)
  process.exit(1)
})
server.listen(config.port, '127.0.0.1', () => {
  void (async () => {
    const demoKeys = config.makeKeys
      ? await ensureDemoKeys(
          app.keys,
          demoPlans().map((p) => p.name),
        )
      : undefined
    const ready: InstanceReady = { ready: true, index: config.index, pid: process.pid, port: config.port }
    process.send?.(demoKeys ? { ...ready, demoKeys } : ready)
  })().catch((error: Error) => {
    process.stderr.write(`demo API instance ${config.index}: ${error.message}\n`)
    process.exit(1)
  })
})
