import { randomUUID } from 'node:crypto'
import { X402Error } from '@402x/core'
import type { PaymentLedger } from '../stores/types.js'
import type { DeliveryTimings } from './backoff.js'
import { checkWebhookUrl } from './checkWebhookUrl.js'
import { stableId } from './eventIds.js'
import { paymentEventBuilder } from './paymentEvents.js'
import { publisher } from './publisher.js'
import { checkEvents } from './resolveWebhooks.js'
import { checkedKey, generateWebhookSecret } from './signWebhook.js'
import { withOwn } from './storedWebhook.js'
import type {
  Delivery,
  DeliveryStatus,
  StoredWebhook,
  StoreEvent,
  StoreEvents,
  Webhook,
  WebhookEventType,
  WebhookHealth,
} from './types.js'
import { startWebhookWorker } from './webhookWorker.js'

/** The event types each paywall on one ledger object listens to. */
const listeners = new WeakMap<object, Map<object, Set<string>>>()

/**
 * A store that writes webhook events in the transactions of its own changes (credit, keys):
 * which event types it carries, and its events (`undefined`: a store of the seller's own that
 * cannot carry them, on which webhooks for those types are refused), read when needed (the
 * store is opened then).
 */
export type EventStore = { name: string; types: readonly WebhookEventType[]; events(): StoreEvents | undefined }

/** The first of `types` a webhook listening to `events` gets. */
const anyOf = (types: readonly string[], events: ReadonlySet<string>) =>
  types.find((t) => events.has(t) || events.has('*'))

/** A webhook as the admin API lists it: never its secret. */
export type WebhookInfo = Omit<Webhook, 'secret'> & WebhookHealth

/** The paywall's webhooks: registry, outbox and worker (`rt.webhooks`). */
export type WebhookService = {
  list(): Promise<WebhookInfo[]>
  /** Registers a webhook (admin API): its URL checked after DNS; a secret made when none is given. */
  add(input: { url: string; events: unknown; secret?: string }): Promise<{ webhook: WebhookInfo; secret: string }>
  /** Removes an admin-registered webhook; code and config ones are refused (remove them there). */
  remove(id: string): Promise<boolean>
  deliveries(filter: { status?: DeliveryStatus; webhook?: string; limit: number; cursor?: string }): Promise<{
    deliveries: Delivery[]
    next?: string
  }>
  replay(id: string): Promise<boolean>
  /**
   * Writes an event that no store transaction carries (`credit.low`, `key.quota_exceeded`),
   * on its own, when a webhook listens for it; `key` makes its id (the same key, one event).
   */
  notify(type: WebhookEventType, key: string, data: Record<string, unknown>): void
  /**
   * The event for a store to write in the transaction of the change it reports (a top-up, a
   * refund, a key made or revoked), or none when no webhook listens for it; `key` makes its id.
   *
   * @example
   * await service.topUp(account, amount, paymentId, rt.webhooks?.events('credit.topped_up', paymentId, data))
   */
  events(type: WebhookEventType, key: string, data: Record<string, unknown>): StoreEvent[]
  /** Runs one round of the worker now (tests, `402x webhooks replay`). */
  tick(): Promise<void>
  close(): Promise<void>
}

/**
 * Starts the webhooks of one paywall on its ledger's outbox.
 *
 * @example
 * const webhooks = createWebhooks({ ledger, fixed: resolveWebhooks(options.webhooks, 'code', false), timings, decimals: 6, localChain: false, onError })
 */
export function createWebhooks(input: {
  ledger: PaymentLedger
  fixed: Webhook[]
  timings: DeliveryTimings
  decimals: number
  localChain: boolean
  /** The stores that write events with their changes, read at each tick (opened on demand). */
  stores: () => EventStore[]
  onError: (error: unknown) => void
}): WebhookService {
  const { outbox } = input.ledger
  if (!outbox)
    throw new X402Error('invalid_config', {
      message:
        'webhooks: this ledger has no outbox (a ledger object of your own): use the SQLite, PostgreSQL or memory ledger',
      details: { option: 'webhooks' },
    })
  let wanted = new Set<string>()
  const me = {}
  /**
   * Which events the ledger writes: those some webhook of some paywall on this ledger object
   * listens to (none: nothing is written).
   */
  const listen = (hooks: readonly Pick<Webhook, 'events'>[] | undefined) => {
    const all = listeners.get(outbox) ?? new Map<object, Set<string>>()
    listeners.set(outbox, all)
    if (hooks) {
      wanted = new Set(hooks.flatMap((h) => h.events))
      all.set(me, wanted)
    } else all.delete(me)
    const union = new Set([...all.values()].flatMap((set) => [...set]))
    outbox.paymentEvents = union.size > 0 ? paymentEventBuilder(union, input.decimals) : undefined
  }
  listen(input.fixed)
  // A store that cannot write events with its changes takes no webhook for them.
  const uncarried = (hooks: readonly Pick<Webhook, 'events'>[]) => {
    const wantedNow = new Set(hooks.flatMap((h) => h.events))
    for (const store of input.stores()) {
      const type = anyOf(store.types, wantedNow)
      if (type && !store.events())
        return `${type} is written in the ${store.name}'s own transactions, and the ${store.name} given in code has no webhookEvents: use the SQLite, PostgreSQL or memory ${store.name}, give it webhookEvents (StoreEvents), or leave ${type} out of the webhook's events`
    }
    return undefined
  }
  const refused = uncarried(input.fixed)
  if (refused)
    throw new X402Error('invalid_config', { message: `webhooks: ${refused}`, details: { option: 'webhooks' } })
  /**
   * Moves the events the stores wrote for this outbox into it (idempotent by id: a crash in
   * between moves them again), from the stores some webhook listens to.
   */
  const relay = async (hooks: readonly Pick<Webhook, 'events'>[]) => {
    const listened = new Set(hooks.flatMap((h) => h.events))
    for (const store of input.stores()) {
      const source = anyOf(store.types, listened) ? store.events() : undefined
      for (;;) {
        const events = (await source?.take(outbox.id, 100)) ?? []
        if (events.length === 0) break
        await outbox.enqueue(events)
        await source?.drop(events.map((e) => e.id))
        if (events.length < 100) break
      }
    }
  }
  const publish = publisher(outbox, input.fixed)
  /**
   * Every webhook of the ledger (this paywall's, then the table's: admin ones and the other
   * paywalls' code and config ones), and those this paywall can sign for. Events are written
   * for the types any of them listens to, whichever paywall's webhook it is.
   */
  const everyHook = async () => {
    await publish().catch(input.onError)
    const stored = await outbox.saved()
    // The table's row of a webhook of this paywall says when it was first published.
    const all = withOwn<StoredWebhook>(stored, input.fixed)
    listen(all)
    const admin = stored.flatMap((h) => (h.source === 'admin' && h.secret ? [{ ...h, secret: h.secret }] : []))
    return { all, serving: [...input.fixed, ...admin], fanOut: input.fixed }
  }
  // At start, before the paywall takes requests (on SQLite at once): the other paywalls on
  // the ledger fan their events out to this one's webhooks from then on.
  const started = everyHook().catch(input.onError)
  const worker = startWebhookWorker({
    outbox,
    owner: `wk_${randomUUID()}`,
    timings: input.timings,
    localChain: input.localChain,
    webhooks: everyHook,
    relay,
    onError: input.onError,
  })
  const info = (hook: StoredWebhook, health: Map<string, WebhookHealth>): WebhookInfo => {
    const { secret: _secret, ...rest } = hook
    return { ...rest, ...(health.get(hook.id) ?? { pending: 0, failing: false }) }
  }
  return {
    async list() {
      const [{ all }, health] = await Promise.all([everyHook(), outbox.health()])
      return all.map((h) => info(h, health))
    },
    async add({ url, events, secret }) {
      try {
        await checkWebhookUrl(url, input.localChain)
      } catch (error) {
        throw new X402Error('invalid_request', {
          message: (error as Error).message,
          details: { reason: 'webhook_url_refused' },
        })
      }
      const checked = checkEvents(events, 'webhook')
      const cannot = uncarried([{ events: checked }])
      if (cannot)
        throw new X402Error('invalid_request', { message: cannot, details: { reason: 'webhook_events_refused' } })
      const key = secret ?? generateWebhookSecret()
      checkedKey(key, 'webhook')
      const hook: Webhook = {
        id: stableId('wh', 'admin', randomUUID()),
        url,
        events: checked,
        secret: key,
        createdAt: Date.now(),
        source: 'admin',
      }
      await outbox.save(hook)
      await everyHook()
      return { webhook: info(hook, new Map()), secret: key }
    },
    async remove(id) {
      // A code or config one, of this paywall or of another one on the ledger.
      const fixed = input.fixed.find((h) => h.id === id) ?? (await outbox.saved()).find((h) => h.id === id)
      if (fixed && fixed.source !== 'admin')
        throw new X402Error('invalid_request', {
          message: `the webhook ${id} is registered in ${fixed.source === 'code' ? 'code (x402Middleware({ webhooks }))' : '402x.config.json'}: remove it there (it is forgotten once no paywall on the ledger has had it for retryForMs)`,
          details: { reason: 'webhook_not_removable' },
        })
      const gone = await outbox.remove(id)
      await everyHook()
      return gone
    },
    deliveries: (filter) => outbox.deliveries(filter),
    replay: (id) => outbox.replay(id),
    notify(type, key, data) {
      if (!wanted.has(type) && !wanted.has('*')) return
      outbox.enqueue([{ id: stableId('evt', type, key), type, timestamp: Date.now(), data }]).catch(input.onError)
    },
    events(type, key, data) {
      if (!wanted.has(type) && !wanted.has('*')) return []
      return [{ id: stableId('evt', type, key), type, timestamp: Date.now(), data, outbox: outbox.id }]
    },
    tick: () => worker.tick(),
    async close() {
      await started
      await worker.stop()
      listen(undefined)
    },
  }
}
