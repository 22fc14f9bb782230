import { describe, expect, it } from 'vitest'
import { groupCommit } from './groupCommit.js'

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

/**
 * A store whose write is a round trip (a few turns of the event loop), and `callers` callers
 * that each send their next write a few turns after theirs was answered, `rounds` times:
 * the batch sizes written.
 */
async function closedLoop(callers: number, rounds: number, fillMs?: number) {
  let queue: (() => void)[] = []
  const sizes: number[] = []
  const flush = async () => {
    const batch = queue
    queue = []
    sizes.push(batch.length)
    await turns(3)
    for (const answer of batch) answer()
  }
  const schedule = groupCommit(() => queue.length, flush, fillMs === undefined ? {} : { fillMs })
  const write = () =>
    new Promise<void>((resolve) => {
      queue.push(resolve)
      schedule()
    })
  await Promise.all(
    Array.from({ length: callers }, async (_, i) => {
      // The callers start at different moments, as requests arriving do.
      await turns(i * 2)
      for (let r = 0; r < rounds; r++) {
        await write()
        await turns(1 + (i % 3))
      }
    }),
  )
  return sizes
}

describe('groupCommit', () => {
  it('writes every write once, one batch at a time', async () => {
    const sizes = await closedLoop(8, 20)
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(160)
  })

  it('with fillMs, waits for the callers a batch just answered: batches of the whole load', async () => {
    const without = await closedLoop(8, 20)
    const filled = await closedLoop(8, 20, 50)
    expect(filled.reduce((a, b) => a + b, 0)).toBe(160)
    // Once the callers are all in, a batch carries all of them (without: halves taking turns).
    expect(filled.filter((n) => n === 8).length).toBeGreaterThan(filled.length / 2)
    expect(without.filter((n) => n === 8).length).toBe(0)
    expect(filled.length).toBeLessThan(without.length)
  })

  it('with fillMs, a batch whose callers do not come back is still written', async () => {
    let queue: number[] = []
    const written: number[] = []
    const schedule = groupCommit(
      () => queue.length,
      async () => {
        written.push(...queue)
        queue = []
        await turns(2)
      },
      { fillMs: 5 },
    )
    for (let i = 0; i < 4; i++) queue.push(i)
    schedule()
    await turns(10)
    // One comes back of the four answered: it is written all the same.
    queue.push(4)
    schedule()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(written).toEqual([0, 1, 2, 3, 4])
  })
})
