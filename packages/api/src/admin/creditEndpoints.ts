import { randomUUID } from 'node:crypto'
import { formatMoney, parseMoney } from '@402x/core'
import { z } from 'zod'
import { checkGrant } from '../credits/checkGrant.js'
import type { CreditService } from '../credits/creditService.js'
import type { AdminHandler, AdminRequest } from './adminContext.js'
import { AdminInputError, adminJson } from './adminHttp.js'
import { parsedBody } from './parsedBody.js'

const GrantSchema = z.strictObject({
  amount: z.union([z.string(), z.number()]),
  reason: z.string().trim().min(1).max(500),
  ref: z.string().min(1).max(200).optional(),
})
const AdjustSchema = GrantSchema

/** The credit service, or a 404 that says how to turn credit on. */
function creditsOf(request: AdminRequest): CreditService {
  const credits = request.rt.config.credits
  if (credits) return credits.service
  throw new AdminInputError(
    'this paywall has no prepaid credit: leave the credits option on (docs/credits-and-metering.md)',
    {
      status: 404,
      code: 'credits_not_configured',
    },
  )
}

/** The account of `/credits/:account`, or 404 when the ledger has never moved money for it. */
async function accountOf(request: AdminRequest, service: CreditService): Promise<string> {
  const account = request.params[0] as string
  if ((await service.entries(account, 1)).length === 0)
    throw new AdminInputError(
      `there is no credit account ${account.slice(0, 100)}: list them with GET /__402x/admin/credits (accounts open with a top-up or paywall.credits.grant())`,
      { status: 404, code: 'not_found' },
    )
  return account
}

const cursorOf = (account: string) => Buffer.from(account, 'utf8').toString('base64url')

/** `GET /credits?limit=&cursor=`: the caller accounts, in account order. */
export const listCredits: AdminHandler = async (request) => {
  const service = creditsOf(request)
  const { searchParams } = request.url
  const limitText = searchParams.get('limit')
  const limit = limitText ? Number(limitText) : 100
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000)
    throw new AdminInputError(`limit is "${limitText?.slice(0, 20)}": give a whole number from 1 to 1000`)
  const cursor = searchParams.get('cursor')
  const after = cursor ? Buffer.from(cursor, 'base64url').toString('utf8') : undefined
  const page = await service.ledger().accounts({ limit, ...(after !== undefined ? { after } : {}) })
  const usd = (n: bigint) => formatMoney(n, request.decimals)
  const last = page.at(-1)
  return adminJson(200, {
    accounts: page.map((a) => ({
      account: a.account,
      balance: usd(a.available),
      reserved: usd(a.reserved),
      updatedAt: new Date(a.updatedAt).toISOString(),
    })),
    ...(page.length === limit && last ? { next: cursorOf(last.account) } : {}),
  })
}

/** `GET /credits/:account?limit=`: the balance and the statement, newest first. */
export const getCredit: AdminHandler = async (request) => {
  const service = creditsOf(request)
  const account = await accountOf(request, service)
  const limitText = request.url.searchParams.get('limit')
  const limit = limitText ? Number(limitText) : 100
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000)
    throw new AdminInputError(`limit is "${limitText?.slice(0, 20)}": give a whole number from 1 to 1000`)
  const [balance, entries] = await Promise.all([service.balance(account), service.entries(account, limit)])
  const usd = (n: bigint) => formatMoney(n, request.decimals)
  return adminJson(200, {
    account,
    balance: usd(balance.available),
    reserved: usd(balance.reserved),
    statement: entries.map((e) => ({
      id: e.id,
      transactionId: e.transactionId,
      kind: e.kind,
      /** `caller` (available credit) or `hold` (reserved). */
      side: e.account.startsWith('hold:') ? 'hold' : 'caller',
      amount: usd(e.amount),
      ref: e.ref,
      ...(e.note ? { note: e.note } : {}),
      createdAt: new Date(e.createdAt).toISOString(),
    })),
  })
}

/** `POST /credits/:account/grant { amount, reason, ref? }`: operator credit, idempotent by ref. */
export const grantCredit: AdminHandler = async (request) => {
  const service = creditsOf(request)
  const input = parsedBody(
    GrantSchema,
    await request.body(),
    '{ "amount": "5.00", "reason": "welcome bonus", "ref": "welcome:alice" }',
  )
  const account = await accountOf(request, service)
  const atomic = parseMoney(input.amount, { decimals: request.decimals, name: 'amount' })
  checkGrant(atomic, request.decimals)
  const ref = input.ref ?? `grant_${randomUUID()}`
  const earlier = input.ref ? await service.grantOf(ref) : undefined
  const balance = await service.grant(account, atomic, ref, input.reason)
  return adminJson(200, {
    account,
    ref,
    amount: formatMoney(atomic, request.decimals),
    balance: formatMoney(balance, request.decimals),
    replayed: Boolean(earlier),
  })
}

/**
 * `POST /credits/:account/adjust { amount, reason, ref? }`: a signed correction ("-2.50"
 * takes back), never below zero (400 `insufficient_credit`), idempotent by ref.
 */
export const adjustCredit: AdminHandler = async (request) => {
  const service = creditsOf(request)
  const input = parsedBody(
    AdjustSchema,
    await request.body(),
    '{ "amount": "-2.50", "reason": "duplicate top-up", "ref": "ticket-812" }',
  )
  const account = await accountOf(request, service)
  const text = String(input.amount).trim()
  const negative = text.startsWith('-')
  const magnitude = parseMoney(negative ? text.slice(1) : text, { decimals: request.decimals, name: 'amount' })
  checkGrant(magnitude, request.decimals)
  const amount = negative ? -magnitude : magnitude
  const ref = input.ref ?? `adjust_${randomUUID()}`
  try {
    const { balance, replayed } = await service.adjust(account, amount, ref, input.reason)
    return adminJson(200, {
      account,
      ref,
      amount: formatMoney(amount, request.decimals),
      balance: formatMoney(balance, request.decimals),
      replayed,
    })
  } catch (error) {
    const details = (error as { details?: { reason?: string; available?: string } }).details
    if (details?.reason === 'insufficient_credit')
      throw new AdminInputError(
        `the account has $${formatMoney(BigInt(details.available ?? 0), request.decimals)} available: an adjustment never takes it below zero; adjust by at most -${formatMoney(BigInt(details.available ?? 0), request.decimals)}`,
        { status: 400, code: 'insufficient_credit' },
      )
    throw error
  }
}
