import type { PaymentQuery } from '../ledger/paymentQuery.js'
import { type PaymentState, transitions } from '../ledger/types.js'
import { AdminInputError, parseInstant } from './adminHttp.js'

const states = Object.keys(transitions) as PaymentState[]

/**
 * The filters of `GET /payments` and `GET /export` from the query string: `payer`, `state`
 * (one or several, comma-separated), `resource`, `from`, `to` (ISO dates or ms), `limit`,
 * `cursor`. Each bad value is a 400 that names it.
 */
export function paymentFilter(params: URLSearchParams): PaymentQuery {
  const query: PaymentQuery = {}
  const payer = params.get('payer')
  if (payer) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(payer))
      throw new AdminInputError(`payer is "${payer.slice(0, 60)}": give a 0x… address of 40 hex digits`)
    query.payer = payer
  }
  const state = params.get('state')
  if (state) {
    const list = state.split(',').map((s) => s.trim())
    for (const s of list)
      if (!states.includes(s as PaymentState))
        throw new AdminInputError(`state "${s.slice(0, 40)}" is not a payment state: give one of ${states.join(', ')}`)
    query.state = list as PaymentState[]
  }
  const resource = params.get('resource')
  if (resource) query.resource = resource
  const from = params.get('from')
  if (from) query.from = parseInstant(from, 'from')
  const to = params.get('to')
  if (to) query.to = parseInstant(to, 'to')
  if (query.from !== undefined && query.to !== undefined && query.to <= query.from)
    throw new AdminInputError('`to` must come after `from`')
  const limit = params.get('limit')
  if (limit) {
    const n = Number(limit)
    if (!Number.isSafeInteger(n) || n < 1 || n > 1000)
      throw new AdminInputError(`limit is "${limit.slice(0, 20)}": give a whole number from 1 to 1000`)
    query.limit = n
  }
  const cursor = params.get('cursor')
  if (cursor) query.cursor = cursor
  return query
}
