/**
 * The credit service's balance reads, one in flight per account: calls for an account whose
 * read is under way wait for that read rather than each making its own (another instance's
 * every charge sends the concurrent calls of that account to read it again). `delete` and
 * `clear` forget the account's figure in `figures` too, and stop later calls joining a read
 * begun before what made them forget it (they read afresh).
 *
 * @example
 * const reads = sharedReads(durable)
 * const available = await reads.run(account, () => readBalance(account))
 * reads.delete(account) // another writer moved it
 */
export function sharedReads<K, V>(figures: Map<K, V>) {
  const inFlight = new Map<K, Promise<V>>()
  return {
    run(key: K, read: () => Promise<V>): Promise<V> {
      const known = inFlight.get(key)
      if (known) return known
      const started = read().finally(() => {
        if (inFlight.get(key) === started) inFlight.delete(key)
      })
      inFlight.set(key, started)
      return started
    },
    delete(key: K): void {
      figures.delete(key)
      inFlight.delete(key)
    },
    clear(): void {
      figures.clear()
      inFlight.clear()
    },
  }
}
