// The limits section (issue 17): on Express 5, the route with no middleware beside a free route
// behind the standalone `rateLimit()` and a key-only route on a tiered plan, each counting in
// memory and in Redis, with limits that never trip; then what one rate-limit decision costs
// on Redis (`store.consume()` alone) and how many Redis commands one request sends. Every
// Redis key the run writes carries `runId`, and is removed after the run (and on an interrupt).
import { fileURLToPath } from 'node:url'
import { createRedisRateLimitStore } from '402x-api'
import { Redis } from 'ioredis'
import { startServer } from './children.js'
import { measured } from './frameworks.js'
import { runLoad } from './load.js'

const script = (name) => fileURLToPath(new URL(`../servers/${name}.js`, import.meta.url))

/** The five servers, in the order their rounds take turns. */
export const limitScenarios = [
  { id: 'baseline', label: 'a. baseline, no middleware', server: 'baseline', path: '/free' },
  { id: 'rlMemory', label: 'free route behind rateLimit(), memory', kind: 'rateLimit', path: '/free' },
  { id: 'rlRedis', label: 'free route behind rateLimit(), Redis', kind: 'rateLimit', redis: true, path: '/free' },
  { id: 'keyMemory', label: 'API key, tiered plan, limits in memory', kind: 'keys', path: '/keyed' },
  { id: 'keyRedis', label: 'API key, tiered plan, limits in Redis', kind: 'keys', redis: true, path: '/keyed' },
]

const median = (values) => {
  const list = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (list.length === 0) return null
  const mid = list.length >> 1
  return list.length % 2 ? list[mid] : (list[mid - 1] + list[mid]) / 2
}
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]

/** A Redis client of the bench's own that fails fast (no offline queue, bounded connect). */
const client = (url) =>
  new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 2000,
    retryStrategy: () => null,
  })

/** Why Redis at `url` cannot be used, or undefined when it answers. */
async function redisProblem(url) {
  const redis = client(url)
  redis.on('error', () => {})
  try {
    await redis.connect()
    await redis.ping()
    return undefined
  } catch (error) {
    return `Redis at ${url} did not answer: ${error.message}`
  } finally {
    redis.disconnect()
  }
}

/**
 * Removes every key of this run (`*<runId>*`) from Redis at `url`; resolves to how many.
 * Bounded: gives up after a few seconds (an interrupt must not hang on a Redis that is down).
 */
export async function removeRedisKeys(url, runId) {
  const redis = client(url)
  redis.on('error', () => {})
  const work = (async () => {
    await redis.connect()
    let removed = 0
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${runId}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length) removed += await redis.del(...keys)
    } while (cursor !== '0')
    return removed
  })()
  let timer
  try {
    return await Promise.race([
      work,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out after 5 s')), 5000)
      }),
    ])
  } finally {
    clearTimeout(timer)
    redis.disconnect()
  }
}

/**
 * Counts the Redis commands that carry `runId` while `work` runs, with `MONITOR` (which
 * slows Redis down: never during a timed round). Resolves to `{ count, commands, inScripts }`:
 * the commands clients sent (each one round trip, as nothing here pipelines), by name, and
 * apart from them the ones a Lua script ran inside Redis (MONITOR shows those too, from "lua").
 */
async function countCommands(url, runId, work) {
  const redis = client(url)
  redis.on('error', () => {})
  await redis.connect()
  const monitor = await redis.monitor()
  monitor.on('error', () => {})
  const commands = {}
  const inScripts = {}
  let count = 0
  monitor.on('monitor', (_time, args, source) => {
    if (!args.some((a) => String(a).includes(runId))) return
    const name = String(args[0]).toLowerCase()
    const into = String(source).startsWith('lua') ? inScripts : commands
    if (into === commands) count++
    into[name] = (into[name] ?? 0) + 1
  })
  try {
    await work()
    // MONITOR's stream lags the commands by a moment.
    await new Promise((resolve) => setTimeout(resolve, 200))
    return { count, commands, inScripts }
  } finally {
    monitor.disconnect()
    redis.disconnect()
  }
}

/**
 * One rate-limit decision on Redis, from this process: `store.consume()` of
 * `createRedisRateLimitStore` (sliding window, a limit that never trips), sequential, each
 * call timed; a `PING` on a client of the same settings before each, for one bare round trip.
 */
async function measureConsume({ redisUrl, runId, calls, warmup }) {
  const store = createRedisRateLimitStore({ url: redisUrl })
  const ping = client(redisUrl)
  ping.on('error', () => {})
  const policy = { algorithm: 'sliding-window', limit: 1e9, windowMs: 60_000 }
  const key = `${runId}:consume`
  try {
    await ping.connect()
    for (let i = 0; i < warmup; i++) {
      await ping.ping()
      await store.consume(key, 1, policy)
    }
    const consume = []
    const pings = []
    for (let i = 0; i < calls; i++) {
      let at = performance.now()
      await ping.ping()
      pings.push(performance.now() - at)
      at = performance.now()
      const decision = await store.consume(key, 1, policy)
      consume.push(performance.now() - at)
      if (!decision.ok) throw new Error('store.consume() refused a call under a limit of 1e9')
    }
    consume.sort((a, b) => a - b)
    pings.sort((a, b) => a - b)
    const probe = await countCommands(redisUrl, runId, async () => {
      for (let i = 0; i < 100; i++) await store.consume(key, 1, policy)
    })
    return {
      calls,
      p50: quantile(consume, 0.5),
      p99: quantile(consume, 0.99),
      pingP50: quantile(pings, 0.5),
      pingP99: quantile(pings, 0.99),
      commandsPerDecision: probe.count / 100,
      commands: probe.commands,
      inScripts: probe.inScripts,
    }
  } finally {
    await store.close()
    ping.disconnect()
  }
}

/**
 * Runs the section: the consume figures first (nothing else loaded), then at each
 * concurrency five fresh servers that take turns in short alternating rounds, as the free
 * section does. A scenario that cannot run (Redis down) is reported with its reason.
 *
 * @param context `{ settings, outDir, progress, runId }`; `settings.limits` holds the timings,
 *   the concurrencies, the limit and the Redis URL.
 */
export async function runLimits({ settings, outDir, progress, runId }) {
  const s = settings.limits
  const redisDown = await redisProblem(s.redisUrl)
  if (redisDown) progress(`limits: ${redisDown}; the Redis scenarios are left out`)
  const scenarios = limitScenarios.filter((sc) => !(sc.redis && redisDown))
  const result = { ...s, runId, redisDown, runs: [], addedP50: null, commandsPerRequest: {}, consume: null }
  try {
    if (!redisDown) {
      progress(`limits: timing ${s.consumeCalls} sequential store.consume() calls on Redis`)
      result.consume = await measureConsume({ ...s, runId, calls: s.consumeCalls, warmup: s.consumeWarmup })
      const c = result.consume
      progress(
        `limits: store.consume() p50 ${c.p50.toFixed(3)} ms, p99 ${c.p99.toFixed(3)} ms (PING p50 ${c.pingP50.toFixed(3)} ms); ${c.commandsPerDecision} Redis command(s) per decision`,
      )
    }
    for (const concurrency of s.concurrencies) {
      const pair = await runRounds(scenarios, concurrency, { s, outDir, runId, progress })
      result.runs.push(...pair.runs)
      if (pair.addedP50) result.addedP50 = pair.addedP50
      if (pair.commands) result.commandsPerRequest = pair.commands
    }
  } finally {
    if (!redisDown) {
      const removed = await removeRedisKeys(s.redisUrl, runId).catch((error) => {
        progress(`limits: could not remove this run's Redis keys (*${runId}*): ${error.message}`)
        return null
      })
      if (removed !== null) progress(`limits: removed this run's ${removed} Redis key(s) (*${runId}*)`)
    }
  }
  return result
}

/** The scenarios at one concurrency, each on a fresh server, in alternating rounds. */
async function runRounds(scenarios, concurrency, { s, outDir, runId, progress }) {
  const servers = []
  try {
    for (const sc of scenarios) {
      const config = {
        runId,
        kind: sc.kind,
        maxRequests: s.maxRequests,
        ...(sc.redis ? { redisUrl: s.redisUrl } : {}),
        ledger: `${outDir}ledger-limits-${sc.id}-${concurrency}.db`,
      }
      servers.push(await startServer(script(sc.server ?? 'limits'), config))
    }
    const loadOf = (i) => {
      const sc = scenarios[i]
      const key = servers[i].ready.key
      return {
        path: sc.path,
        concurrency,
        // A limited route's answer must carry the RateLimit header: the limit was taken.
        ...(sc.kind ? { expect: 'ratelimit' } : {}),
        ...(key ? { headers: { authorization: `Bearer ${key}` } } : {}),
      }
    }
    for (const i of scenarios.keys()) await runLoad({ port: servers[i].port, ...loadOf(i), durationMs: s.warmupMs })
    const rounds = scenarios.map(() => [])
    for (let round = 0; round < s.rounds; round++) {
      const order = round % 2 ? [...scenarios.keys()].reverse() : [...scenarios.keys()]
      for (const i of order) rounds[i].push(await measured(servers[i], { ...loadOf(i), durationMs: s.roundMs }))
    }
    const base = rounds[0]
    const runs = scenarios.map((sc, i) => summarize(sc, concurrency, rounds[i], base))
    const byId = Object.fromEntries(runs.map((r) => [r.id, r]))
    progress(
      `limits @${concurrency}: baseline ${runs[0].rps.toFixed(0)} req/s; ${runs
        .slice(1)
        .map((r) => `${r.label} ${r.rps.toFixed(0)} req/s (${r.ratioToBaseline?.toFixed(3)}×, ${r.failed} failed)`)
        .join('; ')} over ${s.rounds} rounds`,
    )
    const out = { runs }
    const at = (id) => scenarios.findIndex((sc) => sc.id === id)
    // The added p50 at 1 caller: per round, Redis less memory, then the median of the rounds.
    if (concurrency === 1 && byId.rlRedis) {
      const added = (redis, memory) => median(rounds[at(redis)].map((r, k) => r.p50 - rounds[at(memory)][k].p50))
      out.addedP50 = { free: added('rlRedis', 'rlMemory'), keys: added('keyRedis', 'keyMemory') }
      // The Redis commands one request sends, counted with MONITOR after the timed rounds.
      out.commands = {}
      for (const id of ['rlRedis', 'keyRedis']) {
        const i = at(id)
        let served = 0
        const probe = await countCommands(s.redisUrl, runId, async () => {
          const r = await runLoad({ port: servers[i].port, ...loadOf(i), durationMs: s.monitorMs })
          served = r.total
        })
        out.commands[id] = { requests: served, perRequest: served ? probe.count / served : null, ...probe }
      }
      progress(
        `limits @1: added p50 over memory: free route ${out.addedP50.free.toFixed(3)} ms, key route ${out.addedP50.keys.toFixed(3)} ms; Redis commands per request: ${Object.entries(
          out.commands,
        )
          .map(([id, c]) => `${id} ${c.perRequest} (${JSON.stringify(c.commands)})`)
          .join(', ')}`,
      )
    }
    return out
  } finally {
    for (const server of servers) await server.stop()
  }
}

/** Rounds of one scenario as one: req/s, latencies and CPU the medians of the rounds'; its ratio the median of the per-round ratios. */
function summarize(sc, concurrency, list, base) {
  const sum = (pick) => list.reduce((n, r) => n + pick(r), 0)
  const reasons = {}
  for (const r of list) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v
  return {
    id: sc.id,
    label: sc.label,
    concurrency,
    rounds: list.length,
    ok: sum((r) => r.ok),
    failed: sum((r) => r.failed),
    total: sum((r) => r.total),
    elapsed: sum((r) => r.elapsed),
    rps: median(list.map((r) => r.rps)),
    p50: median(list.map((r) => r.p50)),
    p99: median(list.map((r) => r.p99)),
    cpuMicros: median(list.map((r) => r.cpuMicros)),
    reasons,
    ratioToBaseline: sc.id === 'baseline' ? 1 : median(list.map((r, k) => r.rps / base[k].rps)),
  }
}
