// One of the processes of sharedLimit.test.ts: hammers one key through the built Redis store
// from the moment its parent names (in Redis's time) until the end it names, then prints
// what it was admitted. Run from the build: `npm run build` first.
import { createInterface } from 'node:readline'
import { Redis } from 'ioredis'
import { createRedisRateLimitStore } from '../../dist/ratelimit/createRedisRateLimitStore.js'

const [url, prefix, key, limit, windowMs] = process.argv.slice(2)
const policy = { algorithm: 'sliding-window', limit: Number(limit), windowMs: Number(windowMs) }

// Redis's clock as seen from here: the store decides in Redis's time, so this process does
// too. Sampled once connected, from the quickest of a few round trips.
const probe = new Redis(url)
await probe.ping()
let offset = 0
let quickest = Number.POSITIVE_INFINITY
for (let i = 0; i < 10; i++) {
  const sent = Date.now()
  const [seconds, micros] = await probe.time()
  const back = Date.now()
  if (back - sent >= quickest) continue
  quickest = back - sent
  offset = Number(seconds) * 1000 + Number(micros) / 1000 - (sent + back) / 2
}
await probe.quit()
const redisNow = () => Date.now() + offset

const store = createRedisRateLimitStore({ url, prefix })
await store.consume(`${key}:warm-up`, 1, policy) // connected, and the script loaded
console.log('ready')
const line = await new Promise((resolve) => createInterface({ input: process.stdin }).once('line', resolve))
const { startAt, endAt } = JSON.parse(line)
// A few ms late rather than early: a take before startAt would land in the window before.
await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt + 5 - redisNow())))

let admitted = 0
let refused = 0
const hammer = async () => {
  while (redisNow() < endAt) {
    if ((await store.consume(key, 1, policy)).ok) admitted++
    else refused++
  }
}
await Promise.all([hammer(), hammer(), hammer(), hammer()])
await store.close()
console.log(JSON.stringify({ admitted, refused }))
