import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { admin, type Range, SignedOut, type Stats, signOut } from './api'
import { Accounts } from './parts/Accounts'
import { Countries } from './parts/Countries'
import { LiveFeed } from './parts/LiveFeed'
import { Outcomes } from './parts/Outcomes'
import { RoutesTable } from './parts/RoutesTable'
import { SeriesChart } from './parts/SeriesChart'
import { Settlements } from './parts/Settlements'
import { SignIn } from './parts/SignIn'
import { Tiles } from './parts/Tiles'
import { TopUsers } from './parts/TopUsers'
import { Webhooks } from './parts/Webhooks'
import { useLive } from './useLive'

const ranges: { value: Range; label: string }[] = [
  { value: 'hour', label: 'Last hour' },
  { value: 'day', label: 'Last day' },
  { value: '30d', label: '30 days' },
]

export function App() {
  const [range, setRange] = useState<Range>('hour')
  const [stats, setStats] = useState<Stats | undefined>()
  const [hour, setHour] = useState<Stats | undefined>()
  const [signedOut, setSignedOut] = useState<string | false>(false)
  const [error, setError] = useState<string | undefined>()
  const rangeRef = useRef(range)
  rangeRef.current = range

  const load = useCallback(async () => {
    try {
      const current = await admin<Stats>(`/stats?range=${rangeRef.current}`)
      setStats(current)
      setHour(rangeRef.current === 'hour' ? current : await admin<Stats>('/stats?range=hour'))
      setSignedOut(false)
      setError(undefined)
    } catch (e) {
      if (e instanceof SignedOut) setSignedOut(e.message)
      else setError((e as Error).message)
    }
  }, [])

  useEffect(() => {
    rangeRef.current = range
    void load()
  }, [range, load])
  useEffect(() => {
    const timer = setInterval(() => void load(), 30_000)
    return () => clearInterval(timer)
  }, [load])

  const live = useLive(!signedOut && stats !== undefined, load)

  if (signedOut !== false) {
    const failed = new URLSearchParams(location.search).get('signin') === 'failed'
    return (
      <SignIn reason={failed ? 'that sign-in link’s token is not this API’s admin token' : undefined} onDone={load} />
    )
  }
  if (!stats) {
    return (
      <main class="loading">{error ? <p class="error">Could not load the stats: {error}</p> : <p>Loading…</p>}</main>
    )
  }
  return (
    <main>
      <header class="top">
        <h1>
          402x <span>dashboard</span>
        </h1>
        <div class="controls">
          <span class={`live-dot ${live.connected ? 'on' : ''}`} data-testid="live-status">
            {live.connected ? 'live' : 'connecting…'}
          </span>
          <select
            aria-label="Time range"
            data-testid="range"
            value={range}
            onChange={(e) => setRange((e.target as HTMLSelectElement).value as Range)}
          >
            {ranges.map((r) => (
              <option value={r.value} key={r.value}>
                {r.label}
              </option>
            ))}
          </select>
          <button
            type="button"
            class="link"
            onClick={async () => {
              await signOut()
              setSignedOut('signed out')
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      {error && <p class="error">The last refresh failed: {error}</p>}
      <Tiles stats={stats} hour={hour} live={live} />
      <Outcomes stats={stats} />
      <SeriesChart stats={stats} />
      <div class="grid two">
        <RoutesTable stats={stats} />
        <Settlements stats={stats} fresh={live.payments} />
      </div>
      <div class="grid two">
        <TopUsers stats={stats} />
        <Countries stats={stats} />
      </div>
      <Accounts />
      <Webhooks />
      <LiveFeed requests={live.requests} />
      <footer>
        Figures for {ranges.find((r) => r.value === range)?.label.toLowerCase()} (
        {new Date(stats.from).toLocaleString()} – now). Revenue is what the ledger recorded as paid. Geography by DB-IP
        (CC BY 4.0).
      </footer>
    </main>
  )
}
