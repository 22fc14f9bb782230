import type { OutboxEvent, StoreEvent, StoreEvents } from './types.js'

/**
 * The events a memory store (credit, keys) wrote with its changes, for the webhook worker:
 * written in the same synchronous step as the change, so the one is never seen without the
 * other; gone with the process, as the store itself.
 *
 * @example
 * const relay = memoryStoreEvents()
 * run(() => { post(…); relay.write(input.events) })
 */
export function memoryStoreEvents(): { write(events: readonly StoreEvent[] | undefined): void; source: StoreEvents } {
  const waiting = new Map<string, StoreEvent>()
  return {
    write(events) {
      for (const e of events ?? []) if (!waiting.has(e.id)) waiting.set(e.id, e)
    },
    source: {
      take: async (outbox, limit) =>
        [...waiting.values()]
          .filter((e) => e.outbox === outbox)
          .slice(0, limit)
          .map(({ outbox: _o, ...event }): OutboxEvent => event),
      drop: async (ids) => {
        for (const id of ids) waiting.delete(id)
      },
    },
  }
}
