import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { redisUrlOrSkip } from '../../../../test/helpers/services.js'

const redisUrl = await redisUrlOrSkip()
const worker = fileURLToPath(new URL('./sharedLimit.worker.mjs', import.meta.url))
const built = fileURLToPath(new URL('../../dist/ratelimit/createRedisRateLimitStore.js', import.meta.url))

type Worker = { child: ChildProcess; lines: string[]; next(): Promise<string> }

function startWorker(args: string[]): Worker {
  const child = spawn(process.execPath, [worker, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  const lines: string[] = []
  let err = ''
  let buffered = ''
  child.stderr?.on('data', (d) => {
    err += d
  })
  child.stdout?.on('data', (d) => {
    buffered += d
    const parts = buffered.split('\n')
    buffered = parts.pop() ?? ''
    lines.push(...parts)
    child.emit('line')
  })
  const next = (seen = lines.length) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`a worker said nothing in 20 s: ${err}`)), 20_000)
      const check = () => {
        if (lines.length <= seen) return
        clearTimeout(timer)
        child.off('line', check)
        resolve(lines[seen]!)
      }
      child.on('line', check)
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`a worker exited (${code}): ${err}`))
      })
      check()
    })
  let read = 0
  return { child, lines, next: () => next(read++) }
}

describe.skipIf(!redisUrl)('a sliding window shared by 4 processes on Redis', () => {
  it('admits what the windows allow, within 1%, however many processes take from it', async () => {
    if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first`)
    const limit = 200
    const windowMs = 1_000
    const prefix = `402x:rl:test:${randomUUID().slice(0, 8)}:`
    const workers = Array.from({ length: 4 }, () =>
      startWorker([redisUrl!, prefix, 'shared', String(limit), String(windowMs)]),
    )
    const admin = new Redis(redisUrl!)
    try {
      expect(await Promise.all(workers.map((w) => w.next()))).toEqual(['ready', 'ready', 'ready', 'ready'])
      // Two whole windows, in Redis's time, starting a little ahead.
      const [seconds, micros] = await admin.time()
      const now = Number(seconds) * 1000 + Number(micros) / 1000
      const startAt = (Math.floor(now / windowMs) + 2) * windowMs
      const endAt = startAt + 2 * windowMs
      for (const w of workers) w.child.stdin?.write(`${JSON.stringify({ startAt, endAt })}\n`)
      const results = (await Promise.all(workers.map((w) => w.next()))).map(
        (line) => JSON.parse(line) as { admitted: number; refused: number },
      )
      const admitted = results.reduce((sum, r) => sum + r.admitted, 0)
      const refused = results.reduce((sum, r) => sum + r.refused, 0)
      // The key is fresh at startAt, so the first window admits `limit` at once. Each later
      // window admits what the previous one's decaying count leaves: as the takes never stop,
      // `limit` again (less one unit, to the millisecond rounding). Two windows allow 2 * limit;
      // the rest of the 1% is for takes sent just before endAt and decided just after it.
      expect(refused).toBeGreaterThan(admitted) // the limit bound: the processes wanted more
      expect(Math.abs(admitted - 2 * limit)).toBeLessThanOrEqual(0.01 * 2 * limit)
      expect(results.every((r) => r.admitted > 0)).toBe(true) // every process was served
    } finally {
      for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL')
      const keys = await admin.keys(`${prefix}*`)
      if (keys.length) await admin.del(...keys)
      await admin.quit()
    }
  })
})
