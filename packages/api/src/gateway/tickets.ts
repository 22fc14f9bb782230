import { randomBytes } from 'node:crypto'
import type { Proceed } from '../paywall/types.js'

/**
 * The decisions the decision service handed out, each good once until it expires: an
 * expired one is aborted (released, charged nothing). Kept in this process: `finish` must
 * reach the instance that answered `decide`.
 */
export function createTickets(ttlMs: number, report: (error: unknown) => void) {
  const open = new Map<string, { decision: Proceed; timer: NodeJS.Timeout }>()
  return {
    /** Keeps a decision; returns its ticket. */
    issue(decision: Proceed): string {
      const ticket = `t_${randomBytes(18).toString('base64url')}`
      const timer = setTimeout(() => {
        open.delete(ticket)
        decision.abort('the decision service ticket expired before finish').catch(report)
      }, ttlMs)
      timer.unref()
      open.set(ticket, { decision, timer })
      return ticket
    },
    /** Takes a ticket's decision out (once): `undefined` when unknown, used or expired. */
    take(ticket: string): Proceed | undefined {
      const entry = open.get(ticket)
      if (!entry) return undefined
      open.delete(ticket)
      clearTimeout(entry.timer)
      return entry.decision
    },
    get size() {
      return open.size
    },
    /** Releases every open decision (the gateway stops). */
    async close(): Promise<void> {
      const entries = [...open.values()]
      open.clear()
      for (const { decision, timer } of entries) {
        clearTimeout(timer)
        await decision.abort('the gateway stopped before finish').catch(report)
      }
    },
  }
}

export type Tickets = ReturnType<typeof createTickets>
