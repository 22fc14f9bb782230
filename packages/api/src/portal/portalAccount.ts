import { formatMoney } from '@402x/core'
import { thisUtcMonth } from '../admin/adminHttp.js'
import { creditsOffer } from '../paywall/credits.js'
import {
  ownKeys,
  type PortalHandler,
  PortalRefusal,
  type PortalRequest,
  portalJson,
  principalOf,
  stillSignedIn,
} from './portalContext.js'

/** How many of the API's latest payments a wallet's recent list is picked from. */
const recentWindow = 1_000

const instant = (value: string | null, fallback: number, name: string) => {
  if (value === null || value === '') return fallback
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value)
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new PortalRefusal(
      400,
      'invalid_request',
      `${name} is "${value.slice(0, 50)}": give an ISO date such as 2026-01-31`,
    )
  }
  return ms
}

/**
 * `GET /api/usage?from=&to=` (ISO dates, default this UTC month): the caller's own keys'
 * calls per route, and a wallet's own payments. Nobody else's.
 */
export const usage: PortalHandler = async (request) => {
  const principal = await principalOf(request)
  const month = thisUtcMonth()
  const from = instant(request.url.searchParams.get('from'), month.from, 'from')
  const to = instant(request.url.searchParams.get('to'), month.to, 'to')
  if (to <= from) throw new PortalRefusal(400, 'invalid_request', 'to must be after from')
  const { rt } = request
  const usd = (n: bigint) => formatMoney(n, rt.decimals)
  const keys = []
  for (const key of await ownKeys(request, principal)) {
    const statement = await rt.config.keys!.usage.statement(key.id, from, to)
    keys.push({
      id: key.id,
      name: key.name,
      plan: key.plan,
      state: key.state,
      calls: statement.total.calls,
      units: statement.total.units,
      amount: usd(statement.total.amount),
      routes: statement.lines.map((l) => ({ route: l.route, calls: l.calls, units: l.units, amount: usd(l.amount) })),
    })
  }
  const body: Record<string, unknown> = { from: new Date(from).toISOString(), to: new Date(to).toISOString(), keys }
  if (principal.session.kind === 'wallet') {
    const payer = principal.session.address
    const stats = await rt.ledger.payerStats(payer, from)
    const recent = (await rt.ledger.list({ limit: recentWindow }))
      .filter((p) => p.payer.toLowerCase() === payer && p.createdAt >= from && p.createdAt < to)
      .slice(0, 50)
    body.payments = {
      count: stats.reduce((n, s) => n + s.count, 0),
      amount: usd(stats.reduce((n, s) => n + s.amount, 0n)),
      recent: recent.map((p) => ({
        id: p.id,
        method: p.method,
        resource: p.resource,
        amount: usd(BigInt(p.amount)),
        state: p.state,
        ...(p.transaction ? { transaction: p.transaction } : {}),
        at: new Date(p.createdAt).toISOString(),
      })),
    }
  }
  return portalJson(200, body)
}

function requireCredits(request: PortalRequest) {
  const credits = request.rt.config.credits
  if (!credits) throw new PortalRefusal(404, 'credits_off', 'this API sells no prepaid credit (credits: false)')
  return credits
}

/** `GET /api/credits`: the caller's credit balance, its latest entries, and the top-up offer. */
export const credits: PortalHandler = async (request) => {
  const principal = await principalOf(request)
  const credits = requireCredits(request)
  const { decimals } = request.rt
  const usd = (n: bigint) => formatMoney(n, decimals)
  const balance = await credits.service.balance(principal.account)
  const entries = await credits.service.entries(principal.account, 50)
  return portalJson(200, {
    balance: { available: usd(balance.available), reserved: usd(balance.reserved) },
    atomic: { available: balance.available, reserved: balance.reserved, decimals },
    offer: creditsOffer(credits, request.origin),
    entries: entries.map((e) => ({
      id: e.id,
      kind: e.kind,
      account: e.account.startsWith('hold:') ? 'reserved' : 'available',
      amount: usd(e.amount < 0n ? -e.amount : e.amount),
      direction: e.amount < 0n ? 'out' : 'in',
      ...(e.note ? { note: e.note } : {}),
      at: new Date(e.createdAt).toISOString(),
    })),
  })
}

/**
 * `POST /api/credits/token`: a new credit token (`x402c_…`, shown once) for the caller's own
 * account: send it with `POST /__402x/credits?amount=` to top that account up, or as
 * `Authorization: Bearer` to spend from it.
 *
 * A key session's token draws on the key's own account, so it lives no longer than the key:
 * revoking the key revokes every token of its account (`paywall.keys.revoke`). Refusing such
 * tokens instead would leave a key session no way to top its key up from the page; sweeping
 * the key's account rather than remembering a session's tokens also takes those of every
 * earlier session, with nothing more stored.
 */
export const creditToken: PortalHandler = async (request) => {
  const principal = await principalOf(request)
  const credits = requireCredits(request)
  const token = await credits.service.issue(principal.account)
  // Revoked meanwhile, the sweep of the key's tokens may have missed this one.
  await stillSignedIn(request, principal, () => credits.service.revoke(token))
  return portalJson(201, {
    token,
    message:
      'shown once: top up with POST /__402x/credits?amount=<dollars> and this token as Authorization: Bearer, or spend with it',
  })
}
