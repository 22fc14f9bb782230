import type { PaymentQuery } from '../ledger/paymentQuery.js'
import type { AdminHandler } from './adminContext.js'
import { AdminInputError, thisUtcMonth } from './adminHttp.js'
import { cloudEvent, csvColumns, csvLine } from './exportRows.js'
import { paymentFilter } from './paymentFilter.js'
import { paymentView } from './paymentView.js'

/** What the export counts by default: the payments that moved money (as volume pricing does). */
const paidStates = ['settled', 'pending', 'reconciled'] as const
/** Rows read from the ledger per page while streaming. */
const pageSize = 500

/**
 * `GET /export?from=&to=&format=csv|cloudevents[&payer=&state=&resource=]`: the payments of
 * a period (default: this UTC month; states settled, pending and reconciled unless `state`
 * says otherwise), oldest first, streamed page by page from the ledger: CSV with a header
 * row, or CloudEvents 1.0 JSON lines (docs/admin-api.md, "Export").
 */
export const exportUsage: AdminHandler = async ({ rt, url, origin }) => {
  const format = url.searchParams.get('format') ?? 'csv'
  if (format !== 'csv' && format !== 'cloudevents')
    throw new AdminInputError(`format is "${format.slice(0, 40)}": give csv or cloudevents`)
  if (url.searchParams.has('cursor') || url.searchParams.has('limit'))
    throw new AdminInputError('the export streams the whole period: leave out cursor and limit (GET /payments pages)')
  const filter = paymentFilter(url.searchParams)
  const month = thisUtcMonth()
  const query: PaymentQuery = {
    ...filter,
    from: filter.from ?? month.from,
    to: filter.to ?? month.to,
    state: filter.state ?? [...paidStates],
    order: 'oldest',
    limit: pageSize,
  }
  const source = `${origin}/__402x`
  const line = format === 'csv' ? csvLine : (p: Parameters<typeof csvLine>[0]) => cloudEvent(p, source)
  // The first page is read before answering: a ledger that is down is a 503, not a cut stream.
  let page = await rt.ledger.query(query)
  let started = false
  const encoder = new TextEncoder()
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let text = ''
      if (!started && format === 'csv') text += `${csvColumns.join(',')}\r\n`
      if (started) {
        if (!page.next) {
          controller.close()
          return
        }
        page = await rt.ledger.query({ ...query, cursor: page.next })
      }
      started = true
      for (const record of page.payments) text += line(paymentView(rt, record))
      if (text) controller.enqueue(encoder.encode(text))
      else if (!page.next) controller.close()
    },
  })
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)
  const name = `402x-payments-${day(query.from as number)}-${day((query.to as number) - 1)}.${format === 'csv' ? 'csv' : 'jsonl'}`
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      'content-disposition': `attachment; filename="${name}"`,
      'cache-control': 'no-store',
    },
  })
}
