/** The delivery worker's timings, every default filled in. */
export type DeliveryTimings = {
  pollIntervalMs: number
  timeoutMs: number
  initialBackoffMs: number
  maxBackoffMs: number
  retryForMs: number
}

/**
 * When to try a delivery again after its `attempts`-th failure, or `undefined` once its
 * event is older than `retryForMs` (the delivery then fails; the last try is at that age). Exponential with "equal
 * jitter": half the delay fixed, half random, so receivers coming back are not hit by every
 * sender at once.
 *
 * @example
 * nextAttempt(3, createdAt, timings) // about 20–40 s from now with the defaults
 */
export function nextAttempt(
  attempts: number,
  createdAt: number,
  t: DeliveryTimings,
  now = Date.now(),
): number | undefined {
  const delay = Math.min(t.maxBackoffMs, t.initialBackoffMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30))
  const deadline = createdAt + t.retryForMs
  if (now >= deadline) return undefined
  // The last attempt is made at the deadline itself, however long the delay would be.
  return Math.round(Math.min(deadline, now + delay / 2 + Math.random() * (delay / 2)))
}
