import { randomUUID } from 'node:crypto'
import { formatMoney, parseMoney, X402Error } from '@402x/core'
import { checkGrant } from '../credits/checkGrant.js'
import { checkPlan } from '../keys/checkPlan.js'
import { mintedFrom } from '../keys/mintedKeys.js'
import type { ResolvedKeys } from '../keys/resolveKeys.js'
import type { ApiKeyRecord, KeyMode, PlanDefinition, Statement, UsageEvent, UsageEventsQuery } from '../keys/types.js'
import type { WebhookService } from '../webhooks/createWebhooks.js'
import type { ResolvedCredits } from './credits.js'
import { dollars } from './dollars.js'
import type { Price } from './types.js'

/** A key as the operator sees it: never the key itself (shown once, at creation). */
export type KeyInfo = Omit<ApiKeyRecord, 'hash'> & { state: 'active' | 'revoked' | 'expired' }

/** `paywall.keys`: the operator's side of API keys (the admin API and `402x keys` use it). */
export type PaywallKeys = {
  /**
   * Issues a key on `plan`. The key is in the answer once; only its hash is kept.
   *
   * @example
   * const { key } = await paywall.keys.create({ name: 'alice', plan: 'free' })
   */
  create(input: {
    name: string
    plan: string
    owner?: string
    metadata?: Record<string, string>
    /** ms epoch. */
    expiresAt?: number
  }): Promise<{ key: string; info: KeyInfo }>
  list(options?: { plan?: string; includeRevoked?: boolean }): Promise<KeyInfo[]>
  get(id: string): Promise<KeyInfo | undefined>
  /**
   * Refused at once in every process on the store; `false` for an unknown or revoked key.
   * Revokes with it what the key minted: {@link PaywallKeys.revokeWithMinted}.
   */
  revoke(id: string): Promise<boolean>
  /**
   * {@link PaywallKeys.revoke}, saying what went with the key: the keys minted from it (created
   * by a portal session signed in with it: owned by `key:<id>` or `metadata.mintedBy` it,
   * recursively), revoked in the
   * same store transaction, each with its `key.revoked` event; then every credit token of the
   * key's account and of theirs (those a portal session issued), revoked right after in the
   * credit store. Both are done again on every call, so that a call that failed half-way is
   * finished by the next one (which answers `revoked: false`).
   *
   * @example
   * const { revoked, minted, creditTokens } = await paywall.keys.revokeWithMinted('key_…')
   */
  revokeWithMinted(id: string): Promise<KeyRevocation>
  /**
   * One page of every key's usage events in [from, to) (ms epoch), oldest first: what the
   * admin export streams (`UsageStore.events`).
   *
   * @example
   * const page = await paywall.keys.events({ from, to, limit: 500 })
   */
  events(query: UsageEventsQuery): Promise<UsageEvent[]>
  /** The key's usage in [from, to) (ms epoch), per route; amounts in dollars. */
  usage(id: string, from: number, to: number): Promise<Statement & { dollars: string }>
  /** The plans keys can be on: the code's, then those put at run time. */
  plans(): Promise<PlanDefinition[]>
  /**
   * Puts a plan at run time (checked with `checkPlan`; replaces one of the same name). A
   * name of a plan given in code is refused: the code's plan would still be the one used.
   */
  putPlan(plan: PlanDefinition): Promise<void>
  /** Credits a key's own account (pay-as-you-go, overage), idempotent by `ref`. */
  grant(id: string, input: { amount: Price; ref?: string; note?: string }): Promise<{ balance: string }>
  /** The key's credit, in dollars. */
  balance(id: string): Promise<{ available: string; reserved: string }>
}

/** What {@link PaywallKeys.revokeWithMinted} did. */
export type KeyRevocation = {
  /** The key itself was revoked by this call (`false`: no such key, or revoked already). */
  revoked: boolean
  /** The ids of the keys minted from it that this call revoked, the oldest first. */
  minted: string[]
  /** How many credit tokens of their accounts this call revoked. */
  creditTokens: number
}

/** `paywall.keys` of a paywall with `keys` (and `credits` where plans draw from credit). */
export function operatorKeys(
  keys: ResolvedKeys,
  context: {
    credits: ResolvedCredits | undefined
    decimals: number
    mode: KeyMode
    codePlans: PlanDefinition[]
    /** The paywall's webhooks: `key.created` and `key.revoked` commit with the key. */
    webhooks?: WebhookService | undefined
  },
): PaywallKeys {
  const { store } = keys
  const { webhooks } = context
  const usd = (n: bigint) => formatMoney(n, context.decimals)
  const known = async (name: string) =>
    context.codePlans.some((p) => p.name === name) || (await store.plans()).some((p) => p.name === name)
  const recordOf = async (id: string) => {
    const record = await store.get(id)
    if (!record) throw new X402Error('invalid_request', { message: `no key ${id}: list them with 402x keys list` })
    return record
  }
  const service = () => {
    if (!context.credits) {
      throw new X402Error('invalid_request', { message: 'credit is off on this API: a key has no credit to grant' })
    }
    return context.credits.service
  }
  async function revokeWithMinted(id: string): Promise<KeyRevocation> {
    // Every key the store reports revoked, once (by id: a transaction run again reports again).
    const revoked = new Map<string, ApiKeyRecord>()
    const self = await store.revoke(id, (record) => {
      revoked.set(record.id, record)
      const data = record.id === id ? { keyId: record.id } : { keyId: record.id, revokedWith: id }
      return webhooks?.events('key.revoked', record.id, data) ?? []
    })
    // Refused from this process's next request on, whatever the clock (the lookup reads
    // the store's version at most once per millisecond).
    keys.lookup.forget()
    const minted = [...revoked.values()].filter((r) => r.id !== id).map((r) => r.id)
    // A credit token lives in the credit store, not in the key store's transaction: the tokens
    // of the key's account (and of the keys it minted) go right after, on every call, so that
    // a credit store down now is caught up by the next revoke. A token the portal issued for a
    // key session draws on the key's account: it must not outlive the key.
    let creditTokens = 0
    if (context.credits) {
      const service = context.credits.service
      for (const account of await treeAccounts(id)) creditTokens += await service.revokeTokensOf(account)
    }
    return { revoked: self, minted, creditTokens }
  }
  /** The accounts of the key and of every key minted from it, whatever their state. */
  const treeAccounts = async (id: string) => {
    const all = await store.list({ includeRevoked: true })
    const tree = all.filter((r) => r.id === id)
    for (const parent of tree) for (const r of all) if (mintedFrom(r, parent.id) && !tree.includes(r)) tree.push(r)
    return tree.map((r) => r.account)
  }
  return {
    async create(input) {
      if (!(await known(input.plan))) {
        const names = [...context.codePlans, ...(await store.plans())].map((p) => p.name).join(', ')
        throw new X402Error('invalid_request', {
          message: `there is no plan "${input.plan}": give one of ${names}`,
          details: { field: 'plan' },
        })
      }
      const { key, record } = await store.create(
        { ...input, mode: context.mode },
        webhooks &&
          ((r) =>
            webhooks.events('key.created', r.id, {
              keyId: r.id,
              name: r.name,
              plan: r.plan,
              createdAt: new Date(r.createdAt).toISOString(),
            })),
      )
      return { key, info: infoOf(record) }
    },
    list: async (options) => (await store.list(options)).map(infoOf),
    get: async (id) => {
      const record = await store.get(id)
      return record && infoOf(record)
    },
    revoke: async (id) => (await revokeWithMinted(id)).revoked,
    revokeWithMinted,
    events: (query) => keys.usage.events(query),
    async usage(id, from, to) {
      await recordOf(id)
      const statement = await keys.usage.statement(id, from, to)
      return { ...statement, dollars: usd(statement.total.amount) }
    },
    plans: async () => {
      const stored = (await store.plans()).filter((p) => !context.codePlans.some((c) => c.name === p.name))
      return [...context.codePlans, ...stored]
    },
    async putPlan(plan) {
      const checked = checkPlan(plan)
      // The code's plan of a name wins over a stored one: a put of it would never be used.
      if (context.codePlans.some((p) => p.name === checked.name)) {
        throw new X402Error('invalid_request', {
          message: `the plan "${checked.name}" is given in the server's code: change it there, or put a plan of another name`,
          details: { field: 'name' },
        })
      }
      await store.putPlan(checked)
      keys.lookup.forget()
    },
    async grant(id, { amount, ref, note }) {
      const record = await recordOf(id)
      const atomic = parseMoney(dollars(amount), { decimals: context.decimals, name: 'amount' })
      checkGrant(atomic, context.decimals)
      const balance = await service().grant(record.account, atomic, ref ?? `grant_${randomUUID()}`, note)
      return { balance: usd(balance) }
    },
    async balance(id) {
      const record = await recordOf(id)
      const { available, reserved } = await service().balance(record.account)
      return { available: usd(available), reserved: usd(reserved) }
    },
  }
}

function infoOf(record: ApiKeyRecord): KeyInfo {
  const { hash: _hash, ...rest } = record
  const state = record.revokedAt
    ? 'revoked'
    : record.expiresAt !== undefined && record.expiresAt <= Date.now()
      ? 'expired'
      : 'active'
  return { ...rest, state }
}
