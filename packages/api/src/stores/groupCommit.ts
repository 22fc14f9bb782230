/**
 * A group commit (the credit service's charges, the PostgreSQL usage records): `schedule()`
 * after a write is queued writes the queue at the end of the event loop's turn in which its
 * first write came, unless more came in that turn: then it waits one more turn for the requests
 * already read (under load, a commit then carries about twice as many writes; when idle,
 * nothing waits). One batch is written at a time: writes that come while one is being
 * written wait for it and go together in the next, so that a networked store commits many
 * per round trip rather than many transactions queuing on one row.
 *
 * @example
 * const schedule = groupCommit(() => queue.length, flush)
 * queue.push(charge)
 * schedule()
 */
export function groupCommit(queued: () => number, flush: () => Promise<void>): () => void {
  let scheduled = false
  let waited = false
  let writing = false
  const gather = () => {
    if (!waited && queued() > 1) {
      waited = true
      setImmediate(gather)
      return
    }
    scheduled = false
    if (writing) return // the batch being written takes these up when it is done
    writing = true
    void (async () => {
      try {
        while (queued() > 0) await flush()
      } finally {
        writing = false
      }
    })()
  }
  return () => {
    if (scheduled) return
    scheduled = true
    waited = false
    setImmediate(gather)
  }
}
