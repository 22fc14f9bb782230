import { formatMoney, type PaymentRequirements, type SettleResponse } from '@402x/core'
import type { PaymentEvent } from './types.js'

/** The `payment` / `settled` event of a payment that settled (or was sent and is pending). */
export function paymentEvent(options: {
  id: string
  state: PaymentEvent['state']
  settle: SettleResponse
  requirements: PaymentRequirements
  payer: string
  method: string
  resource: string
  decimals: number
}): PaymentEvent {
  const { requirements } = options
  const amount = BigInt(requirements.amount)
  return {
    id: options.id,
    payer: options.payer,
    payTo: requirements.payTo,
    amount,
    price: formatMoney(amount, options.decimals),
    network: requirements.network,
    asset: requirements.asset,
    transaction: options.settle.transaction,
    resource: options.resource,
    method: options.method,
    state: options.state,
  }
}
