import type { AdminHandler } from './adminContext.js'
import { AdminInputError, thisUtcMonth } from './adminHttp.js'
import { type ExportKind, type ExportPlan, exportPages, headerOf, pageSize } from './exportPages.js'
import { paymentFilter } from './paymentFilter.js'

/** What the payments export counts by default: the payments that moved money (as volume pricing does). */
const paidStates = ['settled', 'pending', 'reconciled'] as const
const kinds = ['payments', 'usage', 'credit', 'all'] as const

/**
 * `GET /export?kind=payments|usage|credit|all&from=&to=&format=csv|cloudevents`: one period
 * (default: this UTC month), oldest first, streamed page by page from the stores: CSV with a
 * header row, or CloudEvents 1.0 JSON lines (docs/admin-api.md, "Export").
 * - `payments` (the default): x402 payments, with the payments' filters (`payer`, `state`,
 *   `resource`; states settled, pending and reconciled unless `state` says otherwise);
 * - `usage`: every served call on an API key (`key=` for one key's);
 * - `credit`: the credit spent by requests (captures and charges) and refunded;
 * - `all`: the three, in that order (CloudEvents only: the kinds' CSV columns differ), those
 *   the paywall has (keys, credit).
 */
export const exportUsage: AdminHandler = async (request) => {
  const { url, origin } = request
  const params = url.searchParams
  const format = params.get('format') ?? 'csv'
  if (format !== 'csv' && format !== 'cloudevents')
    throw new AdminInputError(`format is "${format.slice(0, 40)}": give csv or cloudevents`)
  const kind = (params.get('kind') ?? 'payments') as (typeof kinds)[number]
  if (!kinds.includes(kind)) throw new AdminInputError(`kind is "${kind.slice(0, 40)}": give ${kinds.join(', ')}`)
  if (kind === 'all' && format === 'csv')
    throw new AdminInputError(
      'kind=all is CloudEvents only (each kind has its own CSV columns): give format=cloudevents, or one kind',
    )
  if (params.has('cursor') || params.has('limit'))
    throw new AdminInputError('the export streams the whole period: leave out cursor and limit (GET /payments pages)')
  if (kind !== 'payments')
    for (const name of ['payer', 'state', 'resource'])
      if (params.has(name))
        throw new AdminInputError(`${name} filters payments: leave it out of kind=${kind}, or give kind=payments`)
  if (params.has('key') && kind !== 'usage') throw new AdminInputError('key filters usage: give kind=usage with it')
  const filter = paymentFilter(params)
  const month = thisUtcMonth()
  const from = filter.from ?? month.from
  const to = filter.to ?? month.to
  if (to <= from) throw new AdminInputError('`to` must come after `from`')
  const plan: ExportPlan = {
    format,
    from,
    to,
    payments: { ...filter, from, to, state: filter.state ?? [...paidStates], order: 'oldest', limit: pageSize },
    keyId: params.get('key') ?? undefined,
    source: `${origin}/__402x`,
  }
  const wanted: ExportKind[] =
    kind !== 'all'
      ? [kind]
      : [
          'payments',
          ...(request.keys ? (['usage'] as const) : []),
          ...(request.rt.config.credits ? (['credit'] as const) : []),
        ]
  async function* chunks() {
    for (const k of wanted) yield* exportPages(request, k, plan)
  }
  const pages = chunks()
  // The first page is read before answering: a store that is down (or a kind the paywall
  // does not have) is an error answer, not a cut stream.
  const first = await pages.next()
  const encoder = new TextEncoder()
  let pending: string | undefined =
    `${format === 'csv' ? headerOf(wanted[0] as ExportKind) : ''}${first.done ? '' : first.value}`
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = pending !== undefined ? { done: false, value: pending } : await pages.next()
      pending = undefined
      if (next.value) controller.enqueue(encoder.encode(next.value))
      if (next.done || first.done) controller.close()
    },
    async cancel() {
      await pages.return(undefined)
    },
  })
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)
  const name = `402x-${kind}-${day(from)}-${day(to - 1)}.${format === 'csv' ? 'csv' : 'jsonl'}`
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      'content-disposition': `attachment; filename="${name}"`,
      'cache-control': 'no-store',
    },
  })
}
