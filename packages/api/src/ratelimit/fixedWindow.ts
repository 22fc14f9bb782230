import { type Algorithm, admitted, refused } from './algorithm.js'

/** A key's count in the current window (windows aligned on multiples of `windowMs`). */
export type FixedState = { window: number; used: number }
type Window = { limit: number; windowMs: number }

/** The state at `t`: a window that ended counts nothing. A clock that went back keeps its window. */
function roll(state: FixedState | undefined, t: number, windowMs: number): FixedState {
  const window = Math.floor(t / windowMs)
  if (!state || state.window < window) return { window, used: 0 }
  return { ...state }
}

/** `limit` units per aligned window; the count starts again at the window's end. */
export const fixedWindow: Algorithm<FixedState, Window> = {
  take(prior, t, cost, { limit, windowMs }) {
    const state = roll(prior, t, windowMs)
    const end = (state.window + 1) * windowMs
    const expiresAt = end
    const untilEnd = end - Math.max(t, state.window * windowMs)
    if (cost > limit || state.used + cost > limit) {
      const resetMs = state.used > 0 ? untilEnd : 0
      return { state, expiresAt, decision: refused(limit, resetMs, cost > limit ? windowMs : untilEnd) }
    }
    state.used += cost
    return { state, expiresAt, decision: admitted(limit, limit - state.used, untilEnd) }
  },
  refund(prior, t, cost, { windowMs }) {
    const state = roll(prior, t, windowMs)
    state.used = Math.max(0, state.used - cost)
    return { state, expiresAt: state.used > 0 ? (state.window + 1) * windowMs : t }
  },
}
