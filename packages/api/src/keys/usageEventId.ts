import { randomUUID } from 'node:crypto'

/**
 * A usage event's id: a UUIDv7 (RFC 9562), the time in ms first and 74 random bits after.
 * Its row's key in the usage table then grows at the end of the index, so that a group
 * commit writes a page or two of it, where random ids (v4) touch a page per event.
 *
 * @example
 * usageEventId() // '0193a1b2-c3d4-7e5f-9a0b-1c2d3e4f5a6b'
 */
export function usageEventId(now = Date.now()): string {
  if (now !== prefixAt) {
    prefixAt = now
    const time = now.toString(16).padStart(12, '0')
    prefix = `${time.slice(0, 8)}-${time.slice(8, 12)}-7`
  }
  // v4's variant is v7's; its version nibble (position 14) becomes 7.
  return prefix + randomUUID().slice(15)
}

/** The time part of the ids of the last millisecond asked for (a busy one asks many times). */
let prefixAt = Number.NaN
let prefix = ''
