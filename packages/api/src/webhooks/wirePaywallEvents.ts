import type { EventEmitter } from 'node:events'
import { formatMoney } from '@402x/core'
import type { PaywallKeys } from '../paywall/operatorKeys.js'
import type { PaywallEvents } from '../paywall/types.js'
import type { WebhookService } from './createWebhooks.js'

/**
 * The events no ledger move carries, written to the outbox on their own as they happen:
 * credit bought (`credit.topped_up`), money given back (`payment.refunded`), keys made and
 * revoked (`key.created`, `key.revoked`, wrapped around `paywall.keys`). Each id is stable
 * (the payment, refund or key it reports).
 *
 * @example
 * const keys = wirePaywallEvents(webhooks, rt.events, paywallKeys, 6)
 */
export function wirePaywallEvents(
  webhooks: WebhookService,
  events: EventEmitter<PaywallEvents>,
  keys: PaywallKeys | undefined,
  decimals: number,
): PaywallKeys | undefined {
  const usd = (n: bigint) => formatMoney(n, decimals)
  events.on('toppedUp', (e) =>
    webhooks.notify('credit.topped_up', e.id, {
      paymentId: e.id,
      payer: e.payer,
      account: e.account,
      amount: usd(e.amount),
    }),
  )
  events.on('refunded', (e) =>
    webhooks.notify('payment.refunded', `${e.id}:${e.reason}`, {
      paymentId: e.id,
      payer: e.payer,
      amount: usd(e.amount),
      reason: e.reason,
      ...(e.transaction ? { transaction: e.transaction } : {}),
    }),
  )
  if (!keys) return undefined
  return {
    ...keys,
    async create(input) {
      const created = await keys.create(input)
      const { id, name, plan, createdAt } = created.info
      webhooks.notify('key.created', id, { keyId: id, name, plan, createdAt: new Date(createdAt).toISOString() })
      return created
    },
    async revoke(id) {
      const revoked = await keys.revoke(id)
      if (revoked) webhooks.notify('key.revoked', id, { keyId: id })
      return revoked
    },
  }
}
