import { describe, expect, it } from 'vitest'
import { decodeHeader, encodeHeader } from './codec.js'
import { exactEvmPayloadOf, isPaymentPayload, isSettleResponse, isVerifyResponse } from './fastChecks.js'
import { ExactEvmPayloadSchema, PaymentPayloadSchema, SettleResponseSchema, VerifyResponseSchema } from './types.js'

const authorization = {
  from: '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
  to: '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65',
  value: '10000',
  validAfter: '0',
  validBefore: '1900000000',
  nonce: `0x${'ab'.repeat(32)}`,
}
const valid = {
  x402Version: 2,
  resource: { url: 'https://api.example.com/premium', description: 'premium', mimeType: 'application/json' },
  accepted: {
    scheme: 'exact',
    network: 'eip155:8453',
    amount: '10000',
    asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
    payTo: '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
    maxTimeoutSeconds: 60,
    extra: { name: 'USD Coin', version: '2' },
  },
  payload: { signature: `0x${'cd'.repeat(65)}`, authorization },
  extensions: { bazaar: { info: {} } },
}

/** Values that probe each kind of field's edges. */
const probes: unknown[] = [
  undefined,
  null,
  0,
  1,
  -1,
  1.5,
  2,
  60,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  '',
  'x',
  '0',
  '00',
  '01',
  '10000',
  '-1',
  '1e3',
  ' 1',
  '9'.repeat(77),
  '9'.repeat(78),
  `1${'0'.repeat(77)}`,
  '0x',
  '0x0',
  '0xab',
  `0x${'ab'.repeat(20)}`,
  `0x${'AB'.repeat(20)}`,
  `0x${'ab'.repeat(19)}a`,
  `0x${'ab'.repeat(21)}`,
  `0x${'gg'.repeat(20)}`,
  `0X${'ab'.repeat(20)}`,
  `0x${'ab'.repeat(32)}`,
  `0x${'ab'.repeat(65)}`,
  [],
  ['a'],
  {},
  { url: 'u' },
  { url: 1 },
  { url: 'u', description: 2 },
  { name: 'USD Coin' },
  true,
]

/** Every path in an object, to each leaf and each inner object. */
function paths(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix]
  const out: string[][] = prefix.length ? [prefix] : []
  for (const [key, inner] of Object.entries(value)) out.push(...paths(inner, [...prefix, key]))
  return out
}

/** A deep copy of `value` with the field at `path` set (or deleted, for `undefined`). */
function withField(value: unknown, path: string[], replacement: unknown): unknown {
  const copy = structuredClone(value) as Record<string, unknown>
  let at = copy
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>
  const last = path[path.length - 1] as string
  if (replacement === undefined) delete at[last]
  else at[last] = replacement
  return copy
}

/** Every variant: each field replaced by each probe, plus an unknown key at each level. */
function variants(base: unknown): unknown[] {
  const out: unknown[] = [base, withField(base, ['extraKey'], 'x')]
  for (const path of paths(base)) {
    for (const probe of probes) out.push(withField(base, path, probe))
    const inner = path.reduce((v: unknown, key) => (v as Record<string, unknown>)[key], base)
    if (typeof inner === 'object' && inner !== null) out.push(withField(base, [...path, 'extraKey'], 'x'))
  }
  return out
}

/**
 * Over every variant of `base`: wherever the hand-written check gives a value, the schema
 * accepts the variant and gives the same value. Counts the variants the check took, and
 * those both refused.
 */
function compare(
  base: unknown,
  check: (value: unknown) => unknown,
  schema: { safeParse(value: unknown): { success: boolean; data?: unknown } },
): { fast: number; refused: number } {
  let fast = 0
  let refused = 0
  for (const candidate of variants(base)) {
    const parsed = schema.safeParse(candidate)
    const mine = check(candidate)
    if (mine !== undefined) {
      fast++
      expect(parsed.success, JSON.stringify(candidate)).toBe(true)
      expect(mine).toStrictEqual(parsed.data)
    } else if (!parsed.success) refused++
  }
  return { fast, refused }
}

describe('hand-written checks agree with the schemas', () => {
  it('accept the valid payloads themselves (the fast path is taken)', () => {
    expect(isPaymentPayload(valid)).toBe(true)
    expect(isPaymentPayload({ ...valid, resource: undefined, extensions: undefined })).toBe(true)
    expect(exactEvmPayloadOf(valid.payload)).toEqual(valid.payload)
  })

  it('accept a payment payload only when PaymentPayloadSchema does, with the same value', () => {
    const { fast, refused } = compare(valid, (v) => (isPaymentPayload(v) ? v : undefined), PaymentPayloadSchema)
    // Both sides of the comparison were exercised.
    expect(fast).toBeGreaterThan(50)
    expect(refused).toBeGreaterThan(50)
  })

  it('accept an exact EVM payload only when ExactEvmPayloadSchema does, with the same output', () => {
    const { fast, refused } = compare(valid.payload, exactEvmPayloadOf, ExactEvmPayloadSchema)
    expect(fast).toBeGreaterThan(10)
    expect(refused).toBeGreaterThan(50)
  })

  it("accept a facilitator's verify and settle answers only when their schemas do, as they are", () => {
    const verify = { isValid: false, invalidReason: 'x', invalidMessage: 'y', payer: authorization.from }
    const settle = {
      success: true,
      errorReason: 'r',
      errorMessage: 'm',
      payer: authorization.from,
      transaction: `0x${'ef'.repeat(32)}`,
      network: 'eip155:8453',
      amount: '10000',
    }
    expect(isVerifyResponse(verify)).toBe(true)
    expect(isSettleResponse(settle)).toBe(true)
    for (const counts of [
      compare(verify, (v) => (isVerifyResponse(v) ? v : undefined), VerifyResponseSchema),
      compare(settle, (v) => (isSettleResponse(v) ? v : undefined), SettleResponseSchema),
    ]) {
      expect(counts.fast).toBeGreaterThan(5)
      expect(counts.refused).toBeGreaterThan(20)
    }
  })

  it('leave the error messages to the schema', () => {
    const bad = withField(valid, ['accepted', 'amount'], '1e3')
    const decoded = decodeHeader(encodeHeader(bad), PaymentPayloadSchema)
    expect(decoded.ok).toBe(false)
    if (!decoded.ok) expect(decoded.error.message).toMatch(/^accepted\.amount: expected a decimal string/)
    // A `__proto__` key goes to the schema, whose value is then what the caller gets.
    const text = JSON.stringify(valid).replace('"payload":{', '"payload":{"__proto__":{"x":1},')
    const proto = decodeHeader(Buffer.from(text).toString('base64'), PaymentPayloadSchema)
    expect(proto.ok).toBe(true)
    if (proto.ok) expect(proto.value).toEqual(PaymentPayloadSchema.parse(JSON.parse(text)))
    // The same key spelled with an escape: JSON.parse makes it an own key all the same.
    const escaped = JSON.stringify(valid).replace('"payload":{', '"payload":{"\\u005f_proto__":{"x":1},')
    expect(Object.keys(JSON.parse(escaped).payload)).toContain('__proto__')
    const viaEscape = decodeHeader(Buffer.from(escaped).toString('base64'), PaymentPayloadSchema)
    expect(viaEscape.ok).toBe(true)
    if (viaEscape.ok) {
      expect(JSON.stringify(viaEscape.value)).toBe(JSON.stringify(PaymentPayloadSchema.parse(JSON.parse(escaped))))
      expect(JSON.stringify(viaEscape.value)).not.toContain('__proto__')
    }
  })
})
