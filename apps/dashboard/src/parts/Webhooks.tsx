import { useEffect, useState } from 'preact/hooks'
import { admin, adminPost } from '../api'
import { Empty } from './Empty'

type Webhook = {
  id: string
  url: string
  events: string[]
  source: string
  failing: boolean
  lastError?: string
  pending: number
}
type Delivery = {
  id: string
  eventId: string
  webhookId: string
  type: string
  status: 'pending' | 'delivered' | 'failed'
  attempts: number
  nextAttemptAt: string | null
  lastError: string | null
}

type Loaded = { webhooks: Webhook[] | undefined; deliveries: Delivery[] }

/** The webhooks, the failing ones first, and the deliveries not delivered, each replayable. */
export function Webhooks() {
  const [data, setData] = useState<Loaded | undefined>()
  const [error, setError] = useState<string | undefined>()
  const [note, setNote] = useState<string | undefined>()
  // Bumped after a replay: the lists are read again at once.
  const [tick, setTick] = useState(0)
  // biome-ignore lint/correctness/useExhaustiveDependencies: `tick` only asks for a fresh read
  useEffect(() => {
    let stopped = false
    const load = async () => {
      try {
        const [hooks, failed, pending] = await Promise.all([
          admin<{ webhooks: Webhook[] }>('/webhooks'),
          admin<{ deliveries: Delivery[] }>('/webhooks/deliveries?status=failed&limit=20'),
          admin<{ deliveries: Delivery[] }>('/webhooks/deliveries?status=pending&limit=20'),
        ])
        const deliveries = [...(failed?.deliveries ?? []), ...(pending?.deliveries ?? [])]
        if (stopped) return
        setData({ webhooks: hooks?.webhooks, deliveries })
        setError(undefined)
      } catch (e) {
        if (!stopped) setError((e as Error).message)
      }
    }
    void load()
    const timer = setInterval(() => void load(), 15_000)
    return () => {
      stopped = true
      clearInterval(timer)
    }
  }, [tick])
  const replay = async (id: string) => {
    try {
      await adminPost(`/webhooks/deliveries/${encodeURIComponent(id)}/replay`)
      setNote(`Delivery ${id} queued again.`)
      setTick((t) => t + 1)
    } catch (e) {
      setNote(`Replay failed: ${(e as Error).message}`)
    }
  }
  const hooks = [...(data?.webhooks ?? [])].sort((a, b) => Number(b.failing) - Number(a.failing))
  return (
    <section class="card" data-testid="webhooks">
      <h2>Webhooks</h2>
      {error && <p class="error">{error}</p>}
      {note && <p class="muted">{note}</p>}
      {!data ? (
        <p class="muted">Loading…</p>
      ) : !data.webhooks ? (
        <Empty>Webhooks are off on this paywall's ledger.</Empty>
      ) : hooks.length === 0 ? (
        <Empty command="npx 402x webhooks add https://example.com/hooks --events payment.settled">
          No webhooks yet: add one with
        </Empty>
      ) : (
        <ul class="list">
          {hooks.map((w) => (
            <li key={w.id} data-testid="webhook" data-failing={String(w.failing)}>
              <span class={`pill ${w.failing ? 'failed' : 'settled'}`}>{w.failing ? 'failing' : 'ok'}</span>
              <span class="mono">{w.url}</span>
              <span class="muted">
                {w.pending} pending{w.lastError ? ` · ${w.lastError}` : ''}
              </span>
            </li>
          ))}
        </ul>
      )}
      {data && data.deliveries.length > 0 && (
        <ul class="list" data-testid="deliveries">
          {data.deliveries.map((d) => (
            <li key={d.id} data-testid="delivery" data-id={d.id}>
              <span class={`pill ${d.status === 'failed' ? 'failed' : 'pending'}`}>{d.status}</span>
              <span>{d.type}</span>
              <span class="muted">
                {d.attempts} attempts{d.lastError ? ` · ${d.lastError}` : ''}
              </span>
              <button type="button" onClick={() => void replay(d.id)}>
                Replay
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
