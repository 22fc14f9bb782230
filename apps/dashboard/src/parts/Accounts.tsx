import { useEffect, useState } from 'preact/hooks'
import { admin, short, usd } from '../api'
import { Empty } from './Empty'

type Key = { id: string; name: string; plan: string; state: string; account: string; start: string }
type Plan = { name: string; quota: { day?: number; month?: number }; overage: 'block' | { price: string } }
type Credit = { account: string; balance: string; reserved: string; updatedAt: string }
type Usage = { total: { calls: number; amount: string } }

type Loaded = {
  keys: (Key & { used?: number })[] | undefined
  plans: Plan[] | undefined
  credits: Credit[] | undefined
}

/** Credit accounts, API keys and plans, each key's calls this month against its plan's quota. */
export function Accounts() {
  const [data, setData] = useState<Loaded | undefined>()
  const [error, setError] = useState<string | undefined>()
  useEffect(() => {
    let stopped = false
    const load = async () => {
      try {
        const [keys, plans, credits] = await Promise.all([
          admin<{ keys: Key[] }>('/keys'),
          admin<{ plans: Plan[] }>('/plans'),
          admin<{ accounts: Credit[] }>('/credits?limit=50'),
        ])
        const withUsage = keys
          ? await Promise.all(
              keys.keys.slice(0, 25).map(async (k) => {
                const usage = await admin<Usage>(`/keys/${encodeURIComponent(k.id)}/usage`).catch(() => undefined)
                return usage ? { ...k, used: usage.total.calls } : k
              }),
            )
          : undefined
        if (!stopped) setData({ keys: withUsage, plans: plans?.plans, credits: credits?.accounts })
      } catch (e) {
        if (!stopped) setError((e as Error).message)
      }
    }
    void load()
    const timer = setInterval(() => void load(), 30_000)
    return () => {
      stopped = true
      clearInterval(timer)
    }
  }, [])
  const plans = new Map((data?.plans ?? []).map((p) => [p.name, p]))
  return (
    <div class="grid two">
      <section class="card">
        <h2>API keys and plans</h2>
        {error && <p class="error">{error}</p>}
        {!data ? (
          <p class="muted">Loading…</p>
        ) : !data.keys ? (
          <Empty command="x402Middleware({ keys: { plans: [{ name: 'free', quota: { month: 1000 } }] } })">
            API keys are off on this paywall: turn them on with
          </Empty>
        ) : data.keys.length === 0 ? (
          <Empty command="npx 402x keys create --name alice --plan free">No keys yet: create one with</Empty>
        ) : (
          <ul class="list" data-testid="keys">
            {data.keys.map((k) => {
              const quota = plans.get(k.plan)?.quota.month
              const used = k.used ?? 0
              return (
                <li key={k.id} class="quota">
                  <span class="grow">
                    <b>{k.name}</b> <span class="muted mono">{k.start}…</span>
                  </span>
                  <span class={`pill ${k.state}`}>{k.plan}</span>
                  <span class="bar wide" title={quota ? `${used} of ${quota} this month` : `${used} this month`}>
                    <span style={{ width: `${quota ? Math.min(100, (used / quota) * 100) : 0}%` }} />
                  </span>
                  <span class="num">
                    {used}
                    {quota ? ` / ${quota}` : ''} calls
                  </span>
                </li>
              )
            })}
          </ul>
        )}
        {data?.plans && data.plans.length > 0 && (
          <p class="muted plans">
            Plans:{' '}
            {data.plans
              .map(
                (p) =>
                  `${p.name} (${p.quota.month ? `${p.quota.month}/month` : p.quota.day ? `${p.quota.day}/day` : 'no quota'}${typeof p.overage === 'object' ? `, then ${usd(p.overage.price)}` : ''})`,
              )
              .join(' · ')}
          </p>
        )}
      </section>
      <section class="card">
        <h2>Credit accounts</h2>
        {!data ? (
          <p class="muted">Loading…</p>
        ) : !data.credits ? (
          <p class="muted">Credit accounts are listed once this API serves GET /__402x/admin/credits (credit on).</p>
        ) : data.credits.length === 0 ? (
          <Empty command={`npx 402x pay '${location.origin}/__402x/credits?amount=1' -X POST`}>
            No credit accounts yet: a caller buys credit with
          </Empty>
        ) : (
          <ul class="list" data-testid="credits">
            {data.credits.map((c) => (
              <li key={c.account}>
                <span class="mono grow" title={c.account}>
                  {short(c.account)}
                </span>
                <span class="num">{usd(c.balance)}</span>
                <span class="num muted">{Number(c.reserved) ? `${usd(c.reserved)} held` : ''}</span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  )
}
