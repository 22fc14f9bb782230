import { withHeaders } from '../paywall/responses.js'
import type { Decision } from '../paywall/types.js'
import type { LimitsTaken } from '../ratelimit/takeLimits.js'

/**
 * A decision made under rate limits: every answer gets their headers (a free pass carries
 * them for the adapter to set), and a refusal (a `respond` of 400 or more: a bad request, a
 * 402, a 429 of a later limit or quota) gives back what the limits took, unless a limit
 * counts refused requests. A request whose handler ran stays counted, whatever it answered.
 */
export async function withLimits(decision: Decision, taken: LimitsTaken): Promise<Decision> {
  const pairs = taken.headers
  if (decision.type === 'respond') {
    if (decision.response.status >= 400 && taken.refundsRefused) await taken.undo()
    return pairs.length ? { ...decision, response: withHeaders(decision.response, pairs) } : decision
  }
  if (!pairs.length) return decision
  if (decision.type === 'skip') return { type: 'skip', headers: [...(decision.headers ?? []), ...pairs] }
  const { finish, finishStatus, streamHeaders } = decision
  return {
    ...decision,
    finish: async (response) => withHeaders(await finish(response), pairs),
    ...(finishStatus
      ? {
          finishStatus: async (status: number) => {
            const outcome = await finishStatus(status)
            if (outcome instanceof Response) return withHeaders(outcome, pairs)
            return { headers: [...(outcome?.headers ?? []), ...pairs] }
          },
        }
      : {}),
    ...(streamHeaders
      ? {
          streamHeaders: () => {
            const out = streamHeaders()
            for (const [name, value] of pairs) out.set(name, value)
            return out
          },
        }
      : {}),
  }
}
