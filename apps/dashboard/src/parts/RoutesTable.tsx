import { ms, type Stats, usd } from '../api'
import { Empty, payCommand } from './Empty'

export function RoutesTable(props: { stats: Stats }) {
  const { byRoute, totals } = props.stats
  return (
    <section class="card">
      <h2>Endpoints</h2>
      {byRoute.length === 0 ? (
        <Empty command={payCommand()}>No priced route has been called in this range: try one with</Empty>
      ) : (
        <div class="scroll">
          <table data-testid="routes">
            <thead>
              <tr>
                <th>Route</th>
                <th class="num">Requests</th>
                <th class="num">Revenue</th>
                <th class="num">Credit</th>
                <th class="num">p50</th>
                <th class="num">p95</th>
                <th class="num">p99</th>
                <th class="num">Errors</th>
              </tr>
            </thead>
            <tbody>
              {byRoute.map((r) => (
                <tr key={r.route}>
                  <td class="mono">{r.route}</td>
                  <td class="num">{r.requests}</td>
                  <td class="num" data-testid="route-revenue" data-value={r.revenue}>
                    {usd(r.revenue)}
                  </td>
                  <td class="num">{usd(r.credit)}</td>
                  <td class="num">{ms(r.p50)}</td>
                  <td class="num">{ms(r.p95)}</td>
                  <td class="num">{ms(r.p99)}</td>
                  <td class="num">{r.errors}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <td>Total received</td>
                <td class="num">{totals.requests}</td>
                <td class="num">{usd(totals.revenue)}</td>
                <td class="num">{usd(totals.creditCharged)}</td>
                <td colSpan={4} />
              </tr>
            </tfoot>
          </table>
        </div>
      )}
    </section>
  )
}
