import type { AdminHandler } from './adminContext.js'
import { AdminInputError, adminJson } from './adminHttp.js'
import { paymentFilter } from './paymentFilter.js'
import { paymentView } from './paymentView.js'

/**
 * `GET /payments?payer=&state=&resource=&from=&to=&limit=&cursor=`: the ledger's payments,
 * newest first; `next` is the cursor of the page after (stable while payments come in).
 */
export const listPayments: AdminHandler = async ({ rt, url }) => {
  const page = await rt.ledger.query(paymentFilter(url.searchParams))
  return adminJson(200, {
    payments: page.payments.map((p) => paymentView(rt, p)),
    ...(page.next ? { next: page.next } : {}),
  })
}

/** `GET /payments/:id`: one payment, or 404. */
export const getPayment: AdminHandler = async ({ rt, params }) => {
  const id = params[0] as string
  const record = await rt.ledger.get(id)
  if (!record)
    throw new AdminInputError(`there is no payment ${id.slice(0, 100)}: list them with GET /__402x/admin/payments`, {
      status: 404,
      code: 'not_found',
    })
  return adminJson(200, { payment: paymentView(rt, record) })
}
