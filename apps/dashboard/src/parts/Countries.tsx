import { type Stats, usd } from '../api'
import { Empty } from './Empty'

const names = typeof Intl.DisplayNames === 'function' ? new Intl.DisplayNames(['en'], { type: 'region' }) : undefined
const nameOf = (code: string) => {
  if (code === 'local') return 'Local network'
  if (code === 'unknown') return 'Unknown'
  try {
    return names?.of(code) ?? code
  } catch {
    return code
  }
}

export function Countries(props: { stats: Stats }) {
  const { countries } = props.stats
  const max = Math.max(1, ...countries.map((c) => c.requests))
  return (
    <section class="card">
      <h2>Geography</h2>
      {countries.length === 0 ? (
        <Empty>
          No requests to place yet: callers appear here by country once they call (local calls show as “Local network”).
        </Empty>
      ) : (
        <ul class="list" data-testid="countries">
          {countries.slice(0, 15).map((c) => (
            <li key={c.country} class="country">
              <span class="grow">
                {nameOf(c.country)}{' '}
                <span class="muted">{c.country !== 'local' && c.country !== 'unknown' ? c.country : ''}</span>
              </span>
              <span class="bar wide">
                <span style={{ width: `${(c.requests / max) * 100}%` }} />
              </span>
              <span class="num">{c.requests}</span>
              <span class="num">{usd(c.revenue)}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
