import type { OutcomeKey, Stats } from '../api'

const labels: { key: OutcomeKey; label: string; kind: 'ok' | 'bad' }[] = [
  { key: 'paid', label: 'Paid', kind: 'ok' },
  { key: 'credit', label: 'Credit', kind: 'ok' },
  { key: 'key', label: 'API key', kind: 'ok' },
  { key: 'free', label: 'Free', kind: 'ok' },
  { key: '402', label: '402 unpaid', kind: 'bad' },
  { key: '429', label: '429 limited', kind: 'bad' },
  { key: '4xx', label: 'Other 4xx', kind: 'bad' },
  { key: '5xx', label: '5xx', kind: 'bad' },
]

export function Outcomes(props: { stats: Stats }) {
  const { byOutcome, totals } = props.stats
  return (
    <section class="card">
      <h2>Outcomes</h2>
      <div class="outcomes">
        {labels.map((o) => {
          const n = byOutcome[o.key] ?? 0
          const share = totals.requests ? (n / totals.requests) * 100 : 0
          return (
            <div class={`outcome ${o.kind}`} key={o.key}>
              <div class="label">{o.label}</div>
              <div class="value" data-testid={`outcome-${o.key}`}>
                {n}
              </div>
              <div class="bar">
                <span style={{ width: `${share}%` }} />
              </div>
            </div>
          )
        })}
      </div>
    </section>
  )
}
