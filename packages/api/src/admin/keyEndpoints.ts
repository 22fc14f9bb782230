import { formatMoney } from '@402x/core'
import { z } from 'zod'
import type { KeyInfo, PaywallKeys } from '../paywall/operatorKeys.js'
import type { AdminRequest, KeyedHandler } from './adminContext.js'
import { AdminInputError, adminJson, parseDuration, parseInstant, thisUtcMonth } from './adminHttp.js'

const CreateKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  plan: z.string().min(1),
  owner: z.string().max(200).optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  expiresIn: z.union([z.string(), z.number()]).optional(),
  expiresAt: z.union([z.string(), z.number()]).optional(),
})

const GrantSchema = z.strictObject({
  amount: z.union([z.string(), z.number()]),
  ref: z.string().min(1).max(200).optional(),
  note: z.string().max(500).optional(),
})

/** A zod failure as one message naming the field. */
function parsed<T>(schema: z.ZodType<T>, body: unknown, example: string): T {
  const result = schema.safeParse(body)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  const field = issue?.code === 'unrecognized_keys' ? String(issue.keys[0]) : issue?.path.join('.') || 'the body'
  throw new AdminInputError(`${field}: ${issue?.message ?? 'invalid'}; send e.g. ${example}`)
}

/** The key of `/keys/:id`, or 404. */
async function keyOf(request: AdminRequest & { keys: PaywallKeys }): Promise<KeyInfo> {
  const id = request.params[0] as string
  const info = await request.keys.get(id)
  if (!info) {
    throw new AdminInputError(`there is no key ${id}: list them with GET /__402x/admin/keys (402x keys list)`, {
      status: 404,
      code: 'not_found',
    })
  }
  return info
}

/** `GET /keys[?plan=&includeRevoked=1]`. */
export const listKeys: KeyedHandler = async ({ keys, url }) => {
  const plan = url.searchParams.get('plan')
  const all = url.searchParams.get('includeRevoked')
  const list = await keys.list({
    ...(plan ? { plan } : {}),
    includeRevoked: all === '1' || all === 'true',
  })
  return adminJson(200, { keys: list })
}

/** `POST /keys`: 201 with the key, shown this once. */
export const createKey: KeyedHandler = async (request) => {
  const input = parsed(CreateKeySchema, await request.body(), '{ "name": "alice", "plan": "free", "expiresIn": "30d" }')
  if (input.expiresIn !== undefined && input.expiresAt !== undefined)
    throw new AdminInputError('give expiresIn or expiresAt, not both')
  const expiresAt =
    input.expiresIn !== undefined
      ? Date.now() + parseDuration(input.expiresIn, 'expiresIn')
      : input.expiresAt !== undefined
        ? parseInstant(input.expiresAt, 'expiresAt')
        : undefined
  if (expiresAt !== undefined && expiresAt <= Date.now())
    throw new AdminInputError('expiresAt is in the past: give a time to come, or expiresIn such as "30d"')
  const created = await request.keys.create({
    name: input.name,
    plan: input.plan,
    ...(input.owner !== undefined ? { owner: input.owner } : {}),
    ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  })
  return adminJson(201, {
    ...created,
    message: 'the key is shown this once (only its hash is kept): callers send Authorization: Bearer <key>',
  })
}

/** `GET /keys/:id`. */
export const getKey: KeyedHandler = async (request) => adminJson(200, { info: await keyOf(request) })

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`
const withIt = (minted: string[], tokens: number) =>
  `${plural(minted.length, 'key')} it minted, ${plural(tokens, 'credit token')}`

/**
 * `POST /keys/:id/revoke`, `DELETE /keys/:id`: with the key, the keys it minted (`minted`, their
 * ids) and its credit tokens (`creditTokens`, how many). A key revoked already answers 409, once
 * what it minted is revoked too (said in its message).
 */
export const revokeKey: KeyedHandler = async (request) => {
  const info = await keyOf(request)
  const { revoked, minted, creditTokens } = await request.keys.revokeWithMinted(info.id)
  if (!revoked) {
    const caught = minted.length + creditTokens > 0 ? `; revoked now with it: ${withIt(minted, creditTokens)}` : ''
    throw new AdminInputError(`the key ${info.id} is already revoked${caught}`, { status: 409, code: 'key_revoked' })
  }
  return adminJson(200, { revoked: true, info: await keyOf(request), minted, creditTokens })
}

/** `GET /keys/:id/usage?from=&to=`: the statement, amounts in dollars. */
export const keyUsage: KeyedHandler = async (request) => {
  const info = await keyOf(request)
  const { searchParams } = request.url
  const month = thisUtcMonth()
  const fromParam = searchParams.get('from')
  const toParam = searchParams.get('to')
  const from = fromParam ? parseInstant(fromParam, 'from') : month.from
  const to = toParam ? parseInstant(toParam, 'to') : month.to
  if (to <= from) throw new AdminInputError('`to` must come after `from`')
  const statement = await request.keys.usage(info.id, from, to)
  const usd = (n: bigint) => formatMoney(n, request.decimals)
  return adminJson(200, {
    keyId: info.id,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    lines: statement.lines.map((line) => ({ ...line, amount: usd(line.amount) })),
    total: { ...statement.total, amount: usd(statement.total.amount) },
  })
}

/** `POST /keys/:id/credit` `{ amount, ref? }`: a grant to the key's credit. */
export const grantKey: KeyedHandler = async (request) => {
  const info = await keyOf(request)
  const input = parsed(GrantSchema, await request.body(), '{ "amount": "5.00", "ref": "invoice-42" }')
  const { balance } = await request.keys.grant(info.id, {
    amount: input.amount,
    ...(input.ref !== undefined ? { ref: input.ref } : {}),
    ...(input.note !== undefined ? { note: input.note } : {}),
  })
  return adminJson(200, { keyId: info.id, balance: { available: balance } })
}

/** `GET /keys/:id/credit`: the key's credit. */
export const keyBalance: KeyedHandler = async (request) => {
  const info = await keyOf(request)
  return adminJson(200, { keyId: info.id, balance: await request.keys.balance(info.id) })
}
