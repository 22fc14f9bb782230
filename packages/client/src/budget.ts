import { formatMoney, parseMoney, X402Error } from '@402x/core'
import { matchHost } from './matchHost.js'

/** Spending limits, in dollars. Every limit is checked before anything is signed. */
export type Budget = {
  /** Most one request may cost. @default 0.10 */
  maxPerRequest?: number | string
  /** Most this client spends in all. @default 10 */
  maxTotal?: number | string
  /** Most spent on one host. */
  maxPerHost?: number | string
  /** Most spent in one UTC day. */
  maxPerDay?: number | string
  /**
   * Hosts it may pay: `api.example.com`, `*.example.com` (its subdomains), `127.0.0.1`. An
   * entry without a port allows that host on every port; `127.0.0.1:4021` allows only that
   * port. @default any
   */
  allowedHosts?: string[]
  /** Addresses it may pay. @default any */
  allowedPayTo?: string[]
}

/** A budget limit that refused a payment. */
export class BudgetExceededError extends X402Error {
  override readonly name = 'BudgetExceededError'
  constructor(
    readonly limit: 'maxPerRequest' | 'maxTotal' | 'maxPerHost' | 'maxPerDay' | 'allowedHosts' | 'allowedPayTo',
    message: string,
    details: Record<string, unknown>,
  ) {
    super('budget_exceeded', { message, details: { limit, ...details } })
  }
}

type Hold = { amount: bigint; host: string; day: string; until: number }

const dollars = (atomic: bigint) => `$${formatMoney(atomic)}`
const today = () => new Date().toISOString().slice(0, 10)

/**
 * Tracks what is spent and what is held. A payment is held from signing until its outcome
 * is known: settled (spent), refused (released), or unknown (held until the signed
 * authorization expires, since it could still be settled until then).
 */
export function createBudgetTracker(budget: Budget = {}) {
  const limit = (value: number | string | undefined, name: string, fallback?: string) =>
    value === undefined && fallback === undefined ? undefined : parseMoney(value ?? (fallback as string), { name })
  const maxPerRequest = limit(budget.maxPerRequest, 'maxPerRequest', '0.10')
  const maxTotal = limit(budget.maxTotal, 'maxTotal', '10')
  const maxPerHost = limit(budget.maxPerHost, 'maxPerHost')
  const maxPerDay = limit(budget.maxPerDay, 'maxPerDay')
  const spent = { total: 0n, hosts: new Map<string, bigint>(), days: new Map<string, bigint>() }
  const holds = new Set<Hold>()

  const held = (filter: (h: Hold) => boolean) => {
    const now = Date.now()
    let sum = 0n
    for (const h of holds) {
      // Its outcome never became known and it can no longer be settled: it may have been,
      // so it counts as spent (fail closed).
      if (h.until < now) spend(h)
      else if (filter(h)) sum += h.amount
    }
    return sum
  }
  const spend = (hold: Hold) => {
    holds.delete(hold)
    spent.total += hold.amount
    spent.hosts.set(hold.host, (spent.hosts.get(hold.host) ?? 0n) + hold.amount)
    spent.days.set(hold.day, (spent.days.get(hold.day) ?? 0n) + hold.amount)
  }

  return {
    /** Checks every limit and holds `amount`, or throws `BudgetExceededError`. */
    hold(amount: bigint, host: string, payTo: string, until: number): Hold {
      const check = (name: BudgetExceededError['limit'], max: bigint | undefined, current: bigint) => {
        if (max !== undefined && current + amount > max) {
          throw new BudgetExceededError(
            name,
            `paying ${dollars(amount)} to ${host} would exceed ${name} (${dollars(max)})${current > 0n ? ` with ${dollars(current)} already spent or held` : ''}: over by ${dollars(current + amount - max)}. Raise ${name} in the budget to allow it.`,
            { max: max.toString(), current: current.toString(), amount: amount.toString() },
          )
        }
      }
      if (budget.allowedHosts && !budget.allowedHosts.some((p) => matchHost(host, p))) {
        throw new BudgetExceededError(
          'allowedHosts',
          `${host} is not in allowedHosts (${budget.allowedHosts.join(', ')})`,
          { host },
        )
      }
      if (budget.allowedPayTo && !budget.allowedPayTo.some((a) => a.toLowerCase() === payTo.toLowerCase())) {
        throw new BudgetExceededError('allowedPayTo', `${payTo} is not in allowedPayTo`, { payTo })
      }
      const day = today()
      check('maxPerRequest', maxPerRequest, 0n)
      check('maxTotal', maxTotal, spent.total + held(() => true))
      check('maxPerHost', maxPerHost, (spent.hosts.get(host) ?? 0n) + held((h) => h.host === host))
      check('maxPerDay', maxPerDay, (spent.days.get(day) ?? 0n) + held((h) => h.day === day))
      const hold = { amount, host, day, until }
      holds.add(hold)
      return hold
    },
    /** The payment settled (or is pending): it counts as spent. */
    spend,
    /** The payment was refused: nothing was charged. */
    release(hold: Hold) {
      holds.delete(hold)
    },
    /** Atomic units spent so far (not counting holds). */
    spent: () => {
      held(() => false)
      return spent.total
    },
    /** Atomic units held for payments whose outcome is unknown. */
    held: () => held(() => true),
  }
}

export type BudgetTracker = ReturnType<typeof createBudgetTracker>
