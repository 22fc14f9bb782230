import type { StoredWebhook, Webhook, WebhookSource } from './types.js'

/** A row of the webhooks table, as SQLite or PostgreSQL gives it. */
export type WebhookRow = {
  id: string
  url: string
  events: string
  secret: string
  created_at: number | bigint
  source: string
  seen_at: number | bigint | null
}

/**
 * A row of the webhooks table as a webhook. Only an admin row has a secret: a code or config
 * one is written with an empty one (the column is `NOT NULL` since version 2), and the
 * paywalls that have it sign with the secret of their own code or environment.
 *
 * @example
 * const hooks = rows.map(storedWebhook)
 */
export function storedWebhook(row: WebhookRow): StoredWebhook {
  const source = (['code', 'config'].includes(row.source) ? row.source : 'admin') as WebhookSource
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    createdAt: Number(row.created_at),
    source,
    ...(source === 'admin' ? { secret: row.secret } : {}),
    ...(row.seen_at !== null ? { seenAt: Number(row.seen_at) } : {}),
  }
}

/**
 * The webhooks a fan-out serves: this paywall's own, then every one of the table not among
 * them (its own are in the table once published; given here too, so that an event is not
 * fanned out without them should their publishing have failed).
 *
 * @example
 * const hooks = withOwn(fixed, saved())
 */
export function withOwn<T extends Pick<Webhook, 'id'>>(own: readonly T[], table: readonly T[]): T[] {
  const ids = new Set(own.map((h) => h.id))
  return [...own, ...table.filter((h) => !ids.has(h.id))]
}

/**
 * Whether a webhook of the table is still fanned out to: an admin one until it is removed;
 * a code or config one while some paywall published it since `unseenSince` (one removed from
 * every paywall's code stops getting events after that, then is forgotten).
 *
 * @example
 * const fanOut = saved.filter(live(Date.now() - retryForMs))
 */
export const live = (unseenSince: number) => (hook: StoredWebhook) =>
  hook.source === 'admin' || (hook.seenAt ?? 0) >= unseenSince
