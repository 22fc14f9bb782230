export type GroupCommitOptions = {
  /**
   * How long (ms) a batch may wait to fill (see {@link groupCommit}); a function, read at each
   * batch, so that the store can say it. `0`: never.
   * @default 0
   */
  fillMs?: number | (() => number)
}

/** Writes past which a batch does not wait to fill. */
const fillCap = 256

/**
 * A group commit (the credit service's charges, the PostgreSQL usage records): `schedule()`
 * after a write is queued writes the queue at the end of the event loop's turn in which its
 * first write came, unless more came in that turn: then it waits one more turn for the requests
 * already read (under load, a commit then carries about twice as many writes; when idle,
 * nothing waits). One batch is written at a time: writes that come while one is being
 * written wait for it and go together in the next, so that a networked store commits many
 * per round trip rather than many transactions queuing on one row.
 *
 * With `fillMs`, a batch also waits, at most that long, for as many writes as the batch
 * just answered carried (beyond those already queued): under a steady load its callers
 * send their next requests at once, and without it they come back while the next batch is
 * being written, so that the load splits into batches of half of it that take turns. A
 * round trip costs the process about the same whatever its size (on a VM, ~0.3–0.5 ms of
 * CPU in the socket write alone), so fewer, fuller batches free that CPU for requests.
 *
 * @example
 * const schedule = groupCommit(() => queue.length, flush, { fillMs: 1 })
 * queue.push(charge)
 * schedule()
 */
export function groupCommit(
  queued: () => number,
  flush: () => Promise<void>,
  options: GroupCommitOptions = {},
): () => void {
  let scheduled = false
  let waited = false
  let writing = false
  /** Writes the last batch carried, when it was answered (performance.now()), and those queued then. */
  let last = 0
  let before = 0
  let answeredAt = Number.NEGATIVE_INFINITY
  const fillMsOf = () => (typeof options.fillMs === 'function' ? options.fillMs() : (options.fillMs ?? 0))
  /** While a batch waits to fill: how many writes it waits for, and how to end the wait. */
  let filling: { target: number; done: () => void } | undefined
  /** Waits until `target` writes are queued (told by `schedule()`), at most `ms`. */
  const fill = (target: number, ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => filling?.done(), ms)
      filling = {
        target,
        done: () => {
          clearTimeout(timer)
          filling = undefined
          resolve()
        },
      }
    })
  const write = async () => {
    try {
      while (queued() > 0) {
        const ms = fillMsOf()
        // The last batch's callers, if it was answered a moment ago, are on their way back.
        if (ms > 0 && performance.now() - answeredAt < ms) {
          const target = Math.min(fillCap, before + last)
          if (queued() < target) await fill(target, ms)
        }
        const size = queued()
        await flush()
        last = size
        answeredAt = performance.now()
        before = queued()
      }
    } finally {
      writing = false
    }
  }
  const gather = () => {
    if (!waited && queued() > 1) {
      waited = true
      setImmediate(gather)
      return
    }
    scheduled = false
    if (writing) return // the batch being written takes these up when it is done
    writing = true
    void write()
  }
  return () => {
    if (filling && queued() >= filling.target) filling.done()
    if (scheduled) return
    scheduled = true
    waited = false
    setImmediate(gather)
  }
}
