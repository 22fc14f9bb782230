import { findNetwork } from '../networks.js'
import type { Invalid } from '../reasons.js'
import type { ExactEvmPayload, PaymentRequirements } from '../types.js'
import { recoverAddress, secpHalfOrder } from './secp.js'
import { transferDigest } from './typedData.js'

/** Seconds of validity an authorization must still have when it is verified. */
export const validBeforeMargin = 6

export type AuthorizationCheck = Invalid | { isValid: true; payer: string }

export type VerifyAuthorizationOptions = {
  payload: ExactEvmPayload
  requirements: PaymentRequirements
  /** Unix seconds. @default now */
  now?: number
  /**
   * Asked when the signature does not recover to `from`: whether `from` is a contract
   * wallet that accepts it (EIP-1271). Without it, such a signature is invalid.
   */
  isValidContractSignature?: (from: string, digest: Uint8Array, signature: string) => Promise<boolean>
}

/**
 * The checks of the `exact` EVM scheme that need no chain (PROTOCOL.md, checks 1–6), in
 * order, each failure mapped to its reason code.
 *
 * @example
 * const check = await verifyAuthorization({ payload, requirements })
 * if (!check.isValid) return check.reason
 */
export async function verifyAuthorization(options: VerifyAuthorizationOptions): Promise<AuthorizationCheck> {
  const { payload, requirements } = options
  const auth = payload.authorization
  const now = options.now ?? Math.floor(Date.now() / 1000)
  const fail = (reason: Invalid['reason'], message: string): Invalid => ({
    isValid: false,
    reason,
    message,
    payer: auth.from,
  })
  if (requirements.scheme !== 'exact') {
    return fail('invalid_scheme', `scheme "${requirements.scheme}" is not "exact"`)
  }
  const network = findNetwork(requirements.network)
  if (!network?.id.startsWith('eip155:')) {
    return fail('invalid_network', `network "${requirements.network}" is not a known EVM network`)
  }
  const name = requirements.extra?.name
  const version = requirements.extra?.version
  if (typeof name !== 'string' || typeof version !== 'string') {
    return fail(
      'invalid_exact_evm_payload_missing_eip712_domain',
      'requirements.extra must carry the token EIP-712 domain as { name, version }',
    )
  }
  const signature = Buffer.from(payload.signature.slice(2), 'hex')
  const digest = transferDigest(
    { name, version, chainId: network.chainId, verifyingContract: requirements.asset },
    auth,
  )
  let recovered = false
  if (signature.length === 65) {
    const s = BigInt(`0x${signature.subarray(32, 64).toString('hex')}`)
    if (s > secpHalfOrder) {
      return fail('invalid_exact_evm_signature', 'signature has a high s value (malleable); sign again')
    }
    recovered = recoverAddress(digest, signature) === auth.from.toLowerCase()
  }
  if (!recovered && !(await options.isValidContractSignature?.(auth.from, digest, payload.signature))) {
    return fail(
      'invalid_exact_evm_signature',
      `signature does not recover to ${auth.from} for this token's EIP-712 domain (${name}/${version}, chain ${network.chainId})`,
    )
  }
  if (auth.to.toLowerCase() !== requirements.payTo.toLowerCase()) {
    return fail(
      'invalid_exact_evm_recipient_mismatch',
      `authorization pays ${auth.to}, but this resource is paid to ${requirements.payTo}`,
    )
  }
  if (BigInt(auth.validAfter) > BigInt(now)) {
    return fail(
      'invalid_exact_evm_payload_authorization_valid_after',
      `authorization is not valid until ${auth.validAfter} (now ${now})`,
    )
  }
  if (BigInt(auth.validBefore) < BigInt(now + validBeforeMargin)) {
    return fail(
      'invalid_exact_evm_payload_authorization_valid_before',
      `authorization expired or expires within ${validBeforeMargin} s (validBefore ${auth.validBefore}, now ${now}); sign a new one`,
    )
  }
  if (BigInt(auth.value) !== BigInt(requirements.amount)) {
    return fail(
      'invalid_exact_evm_payload_authorization_value_mismatch',
      `authorization is for ${auth.value} atomic units, but the price is ${requirements.amount}`,
    )
  }
  return { isValid: true, payer: auth.from }
}
