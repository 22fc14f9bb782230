import { formatMoney, parseMoney } from '@402x/core'
import type { Budget, Receipt } from '402x-client'

/** What the agent spent, and what its budget still allows, in dollars. */
export type Spending = {
  spent: string
  spentToday: string
  byHost: Record<string, string>
  budget: Record<string, string | string[]>
  remaining: { total?: string; today?: string }
  payments: {
    url: string
    method: string
    price: string
    payTo: string
    network: string
    transaction: string
    status: string
    at: string
    topUp?: true
  }[]
}

const usd = (atomic: bigint) => formatMoney(atomic, 6)
const atomic = (dollars: number | string) => parseMoney(String(dollars), { name: 'budget' })

/**
 * The spending records of the agent's client (its receipts: every payment it made, credit
 * top-ups included), summed in all, today (UTC) and per host, against its budget. The
 * client's budget counts the same payments: what it refuses is what this shows as used.
 *
 * @example
 * const report = spendingOf(client.receipts, budget)
 */
export function spendingOf(receipts: readonly Receipt[], budget: Budget, last = 50): Spending {
  const day = new Date().toISOString().slice(0, 10)
  let total = 0n
  let today = 0n
  const hosts = new Map<string, bigint>()
  for (const r of receipts) {
    total += r.amount
    if (r.at.toISOString().slice(0, 10) === day) today += r.amount
    const host = new URL(r.url).host
    hosts.set(host, (hosts.get(host) ?? 0n) + r.amount)
  }
  const shown: Spending['budget'] = {}
  for (const [name, value] of Object.entries(budget)) {
    if (value !== undefined) shown[name] = Array.isArray(value) ? value : usd(atomic(value))
  }
  const remaining: Spending['remaining'] = {}
  const left = (max: number | string, used: bigint) => usd(atomic(max) > used ? atomic(max) - used : 0n)
  if (budget.maxTotal !== undefined) remaining.total = left(budget.maxTotal, total)
  if (budget.maxPerDay !== undefined) remaining.today = left(budget.maxPerDay, today)
  return {
    spent: usd(total),
    spentToday: usd(today),
    byHost: Object.fromEntries([...hosts].map(([h, a]) => [h, usd(a)])),
    budget: shown,
    remaining,
    payments: receipts.slice(-last).map((r) => ({
      url: r.url,
      method: r.method,
      price: r.price,
      payTo: r.payTo,
      network: r.network,
      transaction: r.transaction,
      status: r.status,
      at: r.at.toISOString(),
      ...(r.topUp ? { topUp: true as const } : {}),
    })),
  }
}
