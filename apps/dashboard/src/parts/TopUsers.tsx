import { useState } from 'preact/hooks'
import { admin, type Stats, short, usd } from '../api'
import { Empty, payCommand } from './Empty'

type Payment = {
  id: string
  amount: string
  state: string
  resource: string
  transaction?: string | null
  createdAt: string
}
type Drill = { user: string; kind: string; payments?: Payment[]; note?: string }

export function TopUsers(props: { stats: Stats }) {
  const [by, setBy] = useState<'revenue' | 'requests'>('revenue')
  const [drill, setDrill] = useState<Drill | undefined>()
  const users = [...props.stats.topUsers].sort((a, b) =>
    by === 'revenue' ? Number(b.revenue) - Number(a.revenue) : b.requests - a.requests,
  )
  const open = async (user: Stats['topUsers'][number]) => {
    if (drill?.user === user.user) return setDrill(undefined)
    if (user.kind !== 'payer') {
      return setDrill({
        user: user.user,
        kind: user.kind,
        note: `${user.requests} requests, ${usd(user.revenue)} charged in this range`,
      })
    }
    setDrill({ user: user.user, kind: user.kind, note: 'loading…' })
    try {
      const found = await admin<{ payments: Payment[] }>(`/payments?payer=${encodeURIComponent(user.user)}&limit=20`)
      setDrill(
        found
          ? { user: user.user, kind: user.kind, payments: found.payments }
          : {
              user: user.user,
              kind: user.kind,
              note: `${user.requests} requests, ${usd(user.revenue)} paid in this range (this API has no payments endpoint)`,
            },
      )
    } catch (error) {
      setDrill({ user: user.user, kind: user.kind, note: `could not load the payments: ${(error as Error).message}` })
    }
  }
  return (
    <section class="card">
      <h2>
        Top users
        <span class="toggle">
          <button type="button" class={by === 'revenue' ? 'on' : ''} onClick={() => setBy('revenue')}>
            by revenue
          </button>
          <button type="button" class={by === 'requests' ? 'on' : ''} onClick={() => setBy('requests')}>
            by requests
          </button>
        </span>
      </h2>
      {users.length === 0 ? (
        <Empty command={payCommand()}>No callers yet: pay a route from another terminal with</Empty>
      ) : (
        <ul class="list users" data-testid="top-users">
          {users.slice(0, 15).map((u) => (
            <li key={`${u.kind}:${u.user}`}>
              <button type="button" class="row" onClick={() => void open(u)} data-testid="top-user" data-user={u.user}>
                <span class={`pill ${u.kind}`}>{u.kind}</span>
                <span class="mono grow" title={u.user}>
                  {short(u.user)}
                </span>
                <span class="num">{u.requests} req</span>
                <span class="num">{usd(u.revenue)}</span>
              </button>
              {drill?.user === u.user && (
                <div class="drill" data-testid="drill">
                  {drill.note && <p class="muted">{drill.note}</p>}
                  {drill.payments && drill.payments.length === 0 && <p class="muted">No payments recorded.</p>}
                  {drill.payments?.map((p) => (
                    <div class="drill-row" key={p.id}>
                      <span class={`pill ${p.state}`}>{p.state}</span>
                      <span class="num">{usd(p.amount)}</span>
                      <span class="mono grow">{p.resource}</span>
                      <span class="muted">{new Date(p.createdAt).toLocaleTimeString()}</span>
                    </div>
                  ))}
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
