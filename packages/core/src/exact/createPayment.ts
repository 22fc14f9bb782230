import { randomBytes } from 'node:crypto'
import { getNetwork } from '../networks.js'
import type {
  Authorization,
  PaymentPayload,
  PaymentPayloadV1,
  PaymentRequirements,
  PaymentRequirementsV1,
  ResourceInfo,
} from '../types.js'
import { signDigest } from './secp.js'
import { transferDigest } from './typedData.js'

export type SignAuthorizationOptions = {
  /** The payer's private key (0x-prefixed 32 bytes). */
  privateKey: string
  /** The payer's address (derived from the key by the caller, once). */
  from: string
  requirements: PaymentRequirements
  /** Unix seconds. @default now */
  now?: number
  /** `validAfter`, in seconds before now. @default undefined (0: valid at once) */
  validAfterSkew?: number
}

/**
 * Signs an EIP-3009 `TransferWithAuthorization` for one set of requirements.
 *
 * @example
 * const { authorization, signature } = signAuthorization({ privateKey, from, requirements })
 */
export function signAuthorization(options: SignAuthorizationOptions): {
  authorization: Authorization
  signature: `0x${string}`
} {
  const { requirements } = options
  const now = options.now ?? Math.floor(Date.now() / 1000)
  const network = getNetwork(requirements.network)
  const name = requirements.extra?.name
  const version = requirements.extra?.version
  if (typeof name !== 'string' || typeof version !== 'string') {
    throw new Error('requirements.extra must carry the EIP-712 domain { name, version }')
  }
  const authorization: Authorization = {
    from: options.from,
    to: requirements.payTo,
    value: requirements.amount,
    validAfter: options.validAfterSkew ? String(now - options.validAfterSkew) : '0',
    validBefore: String(now + requirements.maxTimeoutSeconds),
    nonce: `0x${randomBytes(32).toString('hex')}`,
  }
  const digest = transferDigest(
    { name, version, chainId: network.chainId, verifyingContract: requirements.asset },
    authorization,
  )
  const key = Buffer.from(options.privateKey.replace(/^0x/, ''), 'hex')
  const signature = `0x${Buffer.from(signDigest(digest, key)).toString('hex')}` as const
  return { authorization, signature }
}

export type CreatePaymentOptions = SignAuthorizationOptions & {
  resource?: ResourceInfo
  /** Extensions offered in the 402, echoed back. */
  extensions?: Record<string, unknown>
}

/**
 * Builds a signed x402 v2 `PaymentPayload` for the `exact` scheme.
 *
 * @example
 * const payload = createPayment({ privateKey, from, requirements: accepts[0] })
 * fetch(url, { headers: { 'PAYMENT-SIGNATURE': encodeHeader(payload) } })
 */
export function createPayment(options: CreatePaymentOptions): PaymentPayload {
  return {
    x402Version: 2,
    ...(options.resource ? { resource: options.resource } : {}),
    accepted: options.requirements,
    payload: signAuthorization(options),
    ...(options.extensions ? { extensions: options.extensions } : {}),
  }
}

/** Builds a signed x402 v1 payload (the `X-PAYMENT` header) from v1 requirements. */
export function createPaymentV1(
  options: Omit<SignAuthorizationOptions, 'requirements'> & { requirements: PaymentRequirementsV1 },
): PaymentPayloadV1 {
  const v1 = options.requirements
  const requirements: PaymentRequirements = {
    scheme: v1.scheme,
    network: getNetwork(v1.network).id,
    amount: v1.maxAmountRequired,
    asset: v1.asset,
    payTo: v1.payTo,
    maxTimeoutSeconds: v1.maxTimeoutSeconds,
    ...(v1.extra ? { extra: v1.extra } : {}),
  }
  return {
    x402Version: 1,
    scheme: v1.scheme,
    network: v1.network,
    payload: signAuthorization({ ...options, requirements, validAfterSkew: 600 }),
  }
}
