import { type Stats, usd } from '../api'
import type { Live } from '../useLive'

export function Tiles(props: { stats: Stats; hour: Stats | undefined; live: Live }) {
  const { stats, hour, live } = props
  const tiles = [
    { label: 'Requests / s', value: live.perSecond.toFixed(1), note: 'last 10 s, live', id: 'per-second' },
    { label: 'Requests / min', value: String(live.perMinute), note: 'last 60 s, live', id: 'per-minute' },
    { label: 'Requests / hour', value: String(hour?.totals.requests ?? '–'), note: 'last hour', id: 'per-hour' },
    { label: 'Requests', value: String(stats.totals.requests), note: 'in this range', id: 'total-requests' },
    {
      label: 'Revenue',
      value: usd(stats.totals.revenue),
      note: `${stats.totals.payments} payments`,
      id: 'total-revenue',
    },
    {
      label: 'Credit used',
      value: usd(stats.totals.creditCharged),
      note: 'charged to credit and keys',
      id: 'credit-used',
    },
  ]
  return (
    <section class="tiles" aria-label="Totals">
      {tiles.map((t) => (
        <div class="tile" key={t.id}>
          <div class="label">{t.label}</div>
          <div
            class="value"
            data-testid={t.id}
            data-value={t.id === 'total-revenue' ? stats.totals.revenue : undefined}
          >
            {t.value}
          </div>
          <div class="note">{t.note}</div>
        </div>
      ))}
    </section>
  )
}
