import { type Algorithm, admitted, refused } from './algorithm.js'

/** A key's counts in the current aligned window and in the one before it. */
export type SlidingState = { window: number; current: number; previous: number }
type Window = { limit: number; windowMs: number }

/** The state at `t`: the current window becomes the previous one when it ends. */
function roll(state: SlidingState | undefined, t: number, windowMs: number): SlidingState {
  const window = Math.floor(t / windowMs)
  if (!state || state.window < window - 1) return { window, current: 0, previous: 0 }
  if (state.window === window - 1) return { window, current: 0, previous: state.current }
  return { ...state } // this window, or a clock that went back: kept
}

/**
 * Cloudflare's estimate: `previous * (1 - elapsed / windowMs) + current`. Compared in units
 * times ms, so that every step is an integer and a boundary never rounds the wrong way.
 */
export const slidingWindow: Algorithm<SlidingState, Window> = {
  take(prior, t, cost, { limit, windowMs: w }) {
    const state = roll(prior, t, w)
    const elapsed = Math.max(0, t - state.window * w)
    const untilEnd = w - elapsed
    const weighted = state.previous * untilEnd // the previous window's share, in units × ms
    const expiresAt = (state.window + 2) * w
    const fits = cost <= limit && weighted + (state.current + cost) * w <= limit * w
    if (!fits) {
      const resetMs = resetAfter(state, untilEnd, w)
      return { state, expiresAt, decision: refused(limit, resetMs, retryAfter(state, cost, limit, untilEnd, w)) }
    }
    state.current += cost
    const remaining = Math.floor((limit * w - weighted - state.current * w) / w)
    return { state, expiresAt, decision: admitted(limit, remaining, resetAfter(state, untilEnd, w)) }
  },
  refund(prior, t, cost, { windowMs: w }) {
    const state = roll(prior, t, w)
    // Units taken just before the window ended now count in `previous`: give those back too.
    const fromCurrent = Math.min(cost, state.current)
    state.current -= fromCurrent
    state.previous = Math.max(0, state.previous - (cost - fromCurrent))
    const empty = state.current === 0 && state.previous === 0
    return { state, expiresAt: empty ? t : (state.window + 2) * w }
  },
}

/** Until the estimate is 0 again: the current count weighs until the next window ends. */
function resetAfter(state: SlidingState, untilEnd: number, w: number): number {
  if (state.current > 0) return untilEnd + w
  return state.previous > 0 ? untilEnd : 0
}

/** The first ms at which `cost` fits, no other take assumed (the estimate only decays). */
function retryAfter(state: SlidingState, cost: number, limit: number, untilEnd: number, w: number): number {
  if (cost > limit) return w // never fits: a whole window, so a caller does not spin
  const room = limit - state.current - cost
  // In this window, as the previous window's share decays: previous * (untilEnd - d) <= room * w.
  if (room >= 0 && state.previous > 0) return Math.ceil((state.previous * untilEnd - room * w) / state.previous)
  // In the next one, where this window's count is the previous one: current * (w - e) <= (limit - cost) * w.
  const into = state.current > 0 ? Math.ceil(((state.current - limit + cost) * w) / state.current) : 0
  return untilEnd + Math.max(0, into)
}
