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
  const { series, stepSeconds } = props.stats
  return (
    <section class="card">
      <h2>Traffic and revenue</h2>
      {props.stats.totals.requests === 0 ? (
        <Empty command={payCommand()}>No requests in this range yet: call a priced route, or pay one with</Empty>
      ) : (
        <Chart key={stepSeconds} series={series} stepSeconds={stepSeconds} />
      )}
    </section>
  )
}

function dataOf(series: Stats['series']): uPlot.AlignedData {
  return [
    series.map((s) => Date.parse(s.t) / 1000),
    ...lines.map((l) => series.map((s) => s[l.key])),
    series.map((s) => Number(s.revenue)),
  ]
}

/** One uPlot, made once per step (a new range makes a new one), fed new data in place. */
function Chart(props: { series: Stats['series']; stepSeconds: number }) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const first = useRef(props)

  useEffect(() => {
    const el = box.current
    if (!el) return
    const width = () => Math.max(200, el.clientWidth)
    const made = new uPlot(
      {
        width: width(),
        height: 220,
        series: [
          {},
          ...lines.map((l) => ({ label: l.label, stroke: l.stroke, width: 1.5, scale: 'n' })),
          { label: 'revenue $', stroke: '#f08c00', width: 2, scale: '$', dash: [4, 3] },
        ],
        axes: [
          {},
          { scale: 'n', label: `requests / ${first.current.stepSeconds / 60} min` },
          { scale: '$', side: 1, grid: { show: false } },
        ],
        legend: { live: false },
      },
      dataOf(first.current.series),
      el,
    )
    plot.current = made
    const resize = () => made.setSize({ width: width(), height: 220 })
    window.addEventListener('resize', resize)
    return () => {
      window.removeEventListener('resize', resize)
      made.destroy()
      plot.current = null
    }
  }, [])

  useEffect(() => {
    plot.current?.setData(dataOf(props.series))
  }, [props.series])

  return <div class="chart" ref={box} data-testid="series-chart" />
}
