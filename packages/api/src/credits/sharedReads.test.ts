import { describe, expect, it } from 'vitest'
import { sharedReads } from './sharedReads.js'

/** A read that answers the count of reads made so far, a turn later. */
const counted = () => {
  let made = 0
  const read = async () => {
    const n = ++made
    await new Promise((resolve) => setImmediate(resolve))
    return BigInt(n)
  }
  return { read, made: () => made }
}

describe('sharedReads', () => {
  it('makes one read for the calls of a key while it is under way, and a new one after', async () => {
    const figures = new Map<string, bigint>()
    const reads = sharedReads(figures)
    const { read, made } = counted()
    expect(await Promise.all([reads.run('a', read), reads.run('a', read), reads.run('b', read)])).toEqual([1n, 1n, 2n])
    expect(await reads.run('a', read)).toBe(3n)
    expect(made()).toBe(3)
  })

  it('forgets: a call after delete or clear does not join a read begun before, and the figure goes', async () => {
    const figures = new Map<string, bigint>([
      ['a', 5n],
      ['b', 6n],
    ])
    const reads = sharedReads(figures)
    const { read } = counted()
    const first = reads.run('a', read)
    reads.delete('a')
    expect(figures.has('a')).toBe(false)
    const second = reads.run('a', read)
    expect(await Promise.all([first, second])).toEqual([1n, 2n])
    const third = reads.run('a', read)
    reads.clear()
    expect(figures.size).toBe(0)
    expect(await Promise.all([third, reads.run('a', read)])).toEqual([3n, 4n])
  })

  it('a failed read fails its callers and is not kept', async () => {
    const reads = sharedReads(new Map<string, number>())
    const failing = () => Promise.reject(new Error('down'))
    await expect(Promise.all([reads.run('a', failing), reads.run('a', failing)])).rejects.toThrow('down')
    expect(await reads.run('a', async () => 7)).toBe(7)
  })
})
