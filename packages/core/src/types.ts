import { z } from 'zod'

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 0x-prefixed 20-byte address')
const uint = z
  .string()
  .regex(/^(0|[1-9]\d{0,77})$/, 'expected a decimal string of an unsigned integer')
  .refine((value) => !/^\d+$/.test(value) || BigInt(value) < 2n ** 256n, 'expected an unsigned 256-bit integer')
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'expected 0x-prefixed 32 bytes')
const hex = z.string().regex(/^0x([0-9a-fA-F]{2})*$/, 'expected 0x-prefixed hex bytes')

export const ResourceInfoSchema = z.looseObject({
  url: z.string(),
  description: z.string().optional(),
  mimeType: z.string().optional(),
})

export const PaymentRequirementsSchema = z.looseObject({
  scheme: z.string().min(1),
  network: z.string().min(1),
  amount: uint,
  asset: z.string().min(1),
  payTo: z.string().min(1),
  maxTimeoutSeconds: z.number().int().positive(),
  extra: z.record(z.string(), z.unknown()).optional(),
})

export const PaymentRequiredSchema = z.looseObject({
  x402Version: z.literal(2),
  error: z.string().optional(),
  resource: ResourceInfoSchema,
  accepts: z.array(PaymentRequirementsSchema),
  extensions: z.record(z.string(), z.unknown()).optional(),
})

export const PaymentPayloadSchema = z.looseObject({
  x402Version: z.literal(2),
  resource: ResourceInfoSchema.optional(),
  accepted: PaymentRequirementsSchema,
  payload: z.record(z.string(), z.unknown()),
  extensions: z.record(z.string(), z.unknown()).optional(),
})

/** v1 requirements: the amount is `maxAmountRequired` and networks have plain names. */
export const PaymentRequirementsV1Schema = z.looseObject({
  scheme: z.string().min(1),
  network: z.string().min(1),
  maxAmountRequired: uint,
  resource: z.string(),
  description: z.string().optional(),
  mimeType: z.string().optional(),
  payTo: z.string().min(1),
  maxTimeoutSeconds: z.number().int().positive(),
  asset: z.string().min(1),
  extra: z.record(z.string(), z.unknown()).optional(),
})

export const PaymentPayloadV1Schema = z.looseObject({
  x402Version: z.literal(1),
  scheme: z.string().min(1),
  network: z.string().min(1),
  payload: z.record(z.string(), z.unknown()),
})

export const AuthorizationSchema = z.object({
  from: address,
  to: address,
  value: uint,
  validAfter: uint,
  validBefore: uint,
  nonce: bytes32,
})

export const ExactEvmPayloadSchema = z.object({
  signature: hex,
  authorization: AuthorizationSchema,
})

export const VerifyResponseSchema = z.looseObject({
  isValid: z.boolean(),
  invalidReason: z.string().optional(),
  invalidMessage: z.string().optional(),
  payer: z.string().optional(),
})

export const SettleResponseSchema = z.looseObject({
  success: z.boolean(),
  errorReason: z.string().optional(),
  errorMessage: z.string().optional(),
  payer: z.string().optional(),
  transaction: z.string(),
  network: z.string(),
  amount: z.string().optional(),
})

export const SupportedResponseSchema = z.looseObject({
  kinds: z.array(
    z.looseObject({
      x402Version: z.number(),
      scheme: z.string(),
      network: z.string(),
      extra: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
  extensions: z.array(z.string()),
  signers: z.record(z.string(), z.array(z.string())),
})

/** Body of `POST /verify` and `POST /settle` on a facilitator. */
export const FacilitatorRequestSchema = z.looseObject({
  x402Version: z.union([z.literal(1), z.literal(2)]).optional(),
  paymentPayload: z.union([PaymentPayloadSchema, PaymentPayloadV1Schema]),
  paymentRequirements: z.union([PaymentRequirementsSchema, PaymentRequirementsV1Schema]),
})

export type ResourceInfo = z.infer<typeof ResourceInfoSchema>
export type PaymentRequirements = z.infer<typeof PaymentRequirementsSchema>
export type PaymentRequired = z.infer<typeof PaymentRequiredSchema>
export type PaymentPayload = z.infer<typeof PaymentPayloadSchema>
export type PaymentRequirementsV1 = z.infer<typeof PaymentRequirementsV1Schema>
export type PaymentPayloadV1 = z.infer<typeof PaymentPayloadV1Schema>
export type Authorization = z.infer<typeof AuthorizationSchema>
export type ExactEvmPayload = z.infer<typeof ExactEvmPayloadSchema>
export type VerifyResponse = z.infer<typeof VerifyResponseSchema>
export type SettleResponse = z.infer<typeof SettleResponseSchema>
export type SupportedResponse = z.infer<typeof SupportedResponseSchema>
export type FacilitatorRequest = z.infer<typeof FacilitatorRequestSchema>
