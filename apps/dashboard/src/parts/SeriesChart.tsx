import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import type { Stats } from '../api'
import { Empty, payCommand } from './Empty'

const lines = [
  { key: 'paid', label: 'paid', stroke: '#2f9e44' },
  { key: 'credit', label: 'credit', stroke: '#1971c2' },
  { key: 'key', label: 'key', stroke: '#7048e8' },
  { key: 'free', label: 'free', stroke: '#868e96' },
  { key: 'refused', label: 'refused', stroke: '#e03131' },
] as const

/** Requests per step by outcome, and revenue on its own axis (uPlot). */
export function SeriesChart(props: { stats: Stats }) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const { series, stepSeconds } = props.stats
  const empty = props.stats.totals.requests === 0

  useEffect(() => {
    const el = box.current
    if (!el || empty) return
    const data: uPlot.AlignedData = [
      series.map((s) => Date.parse(s.t) / 1000),
      ...lines.map((l) => series.map((s) => s[l.key])),
      series.map((s) => Number(s.revenue)),
    ]
    const width = () => Math.max(200, el.clientWidth)
    if (!plot.current) {
      plot.current = new uPlot(
        {
          width: width(),
          height: 220,
          series: [
            {},
            ...lines.map((l) => ({ label: l.label, stroke: l.stroke, width: 1.5, scale: 'n' })),
            { label: 'revenue $', stroke: '#f08c00', width: 2, scale: '$', dash: [4, 3] },
          ],
          axes: [{}, { scale: 'n', label: `requests / ${stepSeconds / 60} min` }, { scale: '$', side: 1, grid: { show: false } }],
          legend: { live: false },
        },
        data,
        el,
      )
    } else plot.current.setData(data)
    const resize = () => plot.current?.setSize({ width: width(), height: 220 })
    window.addEventListener('resize', resize)
    return () => window.removeEventListener('resize', resize)
  }, [series, empty, stepSeconds])

  useEffect(
    () => () => {
      plot.current?.destroy()
      plot.current = null
    },
    [stepSeconds, empty],
  )

  return (
    <section class="card">
      <h2>Traffic and revenue</h2>
      {empty ? (
        <Empty command={payCommand()}>No requests in this range yet: call a priced route, or pay one with</Empty>
      ) : (
        <div class="chart" ref={box} data-testid="series-chart" />
      )}
    </section>
  )
}
