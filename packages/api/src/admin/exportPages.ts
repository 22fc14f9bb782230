import type { PaymentQuery } from '../ledger/paymentQuery.js'
import type { AdminRequest } from './adminContext.js'
import { requireKeys } from './adminContext.js'
import { AdminInputError } from './adminHttp.js'
import { creditCloudEvent, creditCsvColumns, creditCsvLine } from './creditExportRows.js'
import { cloudEvent, csvColumns, csvLine } from './exportRows.js'
import { paymentView } from './paymentView.js'
import { usageCloudEvent, usageCsvColumns, usageCsvLine } from './usageExportRows.js'

/** What the export streams: x402 payments, usage on API keys, or the credit spent (revenue). */
export type ExportKind = 'payments' | 'usage' | 'credit'

/** One export's settings, read from the query string (exportEndpoint.ts). */
export type ExportPlan = {
  format: 'csv' | 'cloudevents'
  from: number
  to: number
  /** The payments' query (filters, page size), for `payments`. */
  payments: PaymentQuery
  /** Only this key's usage, for `usage`. */
  keyId: string | undefined
  /** The CloudEvents `source`. */
  source: string
}

/** Rows read from a store per page while streaming. */
export const pageSize = 500

/** The CSV header row of a kind. */
export const headerOf = (kind: ExportKind) =>
  `${(kind === 'payments' ? csvColumns : kind === 'usage' ? usageCsvColumns : creditCsvColumns).join(',')}\r\n`

/**
 * The pages of one kind of export, as text (one chunk per store page, oldest first), read
 * from its store only as the stream is read: a large period is never held in memory.
 */
export async function* exportPages(request: AdminRequest, kind: ExportKind, plan: ExportPlan): AsyncGenerator<string> {
  const { rt, decimals } = request
  const csv = plan.format === 'csv'
  if (kind === 'payments') {
    let page = await rt.ledger.query(plan.payments)
    for (;;) {
      let text = ''
      for (const record of page.payments) {
        const view = paymentView(rt, record)
        text += csv ? csvLine(view) : cloudEvent(view, plan.source)
      }
      if (text) yield text
      if (!page.next) return
      page = await rt.ledger.query({ ...plan.payments, cursor: page.next })
    }
  }
  if (kind === 'usage') {
    const keys = requireKeys(request)
    const query = { from: plan.from, to: plan.to, limit: pageSize, ...(plan.keyId ? { keyId: plan.keyId } : {}) }
    let page = await keys.events(query)
    for (;;) {
      let text = ''
      for (const e of page) text += csv ? usageCsvLine(e, decimals) : usageCloudEvent(e, plan.source, decimals)
      if (text) yield text
      if (page.length < pageSize) return
      page = await keys.events({ ...query, after: page.at(-1) })
    }
  }
  const credits = rt.config.credits
  if (!credits)
    throw new AdminInputError(
      'this paywall has no prepaid credit: leave the credits option on, or export kind=payments',
      {
        status: 404,
        code: 'credits_not_configured',
      },
    )
  const store = credits.service.ledger()
  // Charges still on a tab are not entries yet: posted first, so that the period is whole.
  await store.postTabs()
  const query = { from: plan.from, to: plan.to, limit: pageSize }
  let page = await store.revenue(query)
  for (;;) {
    let text = ''
    for (const e of page) text += csv ? creditCsvLine(e, decimals) : creditCloudEvent(e, plan.source, decimals)
    if (text) yield text
    if (page.length < pageSize) return
    page = await store.revenue({ ...query, after: page.at(-1) })
  }
}
