// Shared by every server child: the same handler, the same listen handshake and shutdown,
// so the scenarios differ only in the middleware in front of the handler.
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { Session } from 'node:inspector'
import { registerNetwork } from '@402x/core'

/** The bench settings the parent passes in `BENCH_CONFIG`. */
export const config = JSON.parse(process.env.BENCH_CONFIG ?? '{}')

/** The body every route answers, paid or free, in every framework. */
export const body = { ok: true, data: 'hello' }

/** The handler behind every Express route, paid or free. */
export const handler = (_req, res) => {
  res.json(body)
}

/** The devchain's network and USDC, as the parent deployed them (`config.network`, `config.usdc`). */
export function registerBenchNetwork() {
  registerNetwork({
    id: config.network,
    chainId: 31337,
    name: 'Local',
    v1Name: 'localhost',
    usdc: { address: config.usdc, symbol: 'USDC', decimals: 6, eip712: config.eip712 },
  })
}

/**
 * The price of `GET /paid` for `config.priceKind`: the same 0.01 USDC, fixed or computed per
 * request by a sync or an async function. `zero` is the same kind of price at 0 (the
 * request is served free once the function has run).
 */
export function benchPrice(kind = 'fixed', { zero = false } = {}) {
  const value = zero ? 0 : Number(config.price)
  if (kind === 'sync') return () => value
  if (kind === 'async') return async () => value
  if (kind === 'fixed') return value
  throw new Error(`unknown priceKind "${kind}": fixed, sync or async`)
}

/**
 * The options of a framework server's paywall: `GET /paid` priced by `config.priceKind`,
 * `GET /free-fn` (function prices only) priced by the same kind of function at 0, and the
 * facilitator over HTTP at `config.facilitatorUrl`. Paths not listed (`/free`) are free.
 */
export function paywallOptions() {
  const kind = config.priceKind ?? 'fixed'
  return {
    routes: {
      'GET /paid': { price: benchPrice(kind) },
      ...(kind === 'fixed' ? {} : { 'GET /free-fn': { price: benchPrice(kind, { zero: true }) } }),
    },
    ...paywallSettings(),
  }
}

/** Where a bench paywall is paid and records: the chain, USDC, the facilitator and the ledger of `config`. */
export function paywallSettings() {
  return {
    payTo: config.payTo,
    network: config.network,
    asset: { address: config.usdc, eip712: config.eip712 },
    facilitator: config.facilitatorUrl,
    ledger: config.ledger,
    reconcileIntervalMs: 0,
  }
}

/** Express: listens with {@link listen}. */
export function serve(app, onClose, ready) {
  listen(createServer(app), onClose, ready)
}

/**
 * Listens on 127.0.0.1 (on `config.port`, else a free port), tells the parent which port,
 * answers its CPU probes, and exits when the parent asks (SIGTERM) or goes away (IPC
 * disconnect), running `onClose` first. `ready`: more for the parent, sent with the port.
 */
export function listen(server, onClose = async () => {}, ready = {}) {
  server.keepAliveTimeout = 60_000
  server.listen(config.port ?? 0, '127.0.0.1', () => {
    process.send?.({ ...ready, type: 'ready', port: server.address().port })
  })
  // The parent reads this process's own CPU time around a run: user + system, in µs.
  // BENCH_CPU_PROF_RUNS=<dir>: a V8 CPU profile of each timed run (between two readings).
  const window = profileWindows(process.env.BENCH_CPU_PROF_RUNS)
  process.on('message', (message) => {
    if (message?.type !== 'cpu') return
    const { user, system } = process.cpuUsage()
    process.send?.({ type: 'cpu', id: message.id, micros: user + system })
    window?.()
  })
  let closing = false
  const close = async () => {
    if (closing) return
    closing = true
    server.closeAllConnections()
    server.close()
    await Promise.race([onClose().catch(() => {}), new Promise((r) => setTimeout(r, 2000))])
    process.exit(0)
  }
  process.on('SIGTERM', close)
  process.on('SIGINT', close)
  process.on('disconnect', close)
}

/** Starts a profile at one CPU reading and writes it at the next, into `dir` (none without). */
function profileWindows(dir) {
  if (!dir) return undefined
  const session = new Session()
  session.connect()
  let running = false
  let count = 0
  return () => {
    if (!running) {
      running = true
      session.post('Profiler.enable', () => session.post('Profiler.start'))
      return
    }
    running = false
    session.post('Profiler.stop', (error, result) => {
      if (!error)
        writeFileSync(
          `${dir}/run-${process.pid}-${++count}-${config.framework ?? ''}${config.priceKind ?? ''}.cpuprofile`,
          JSON.stringify(result.profile),
        )
    })
  }
}
