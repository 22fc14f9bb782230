/**
 * The reason codes 402x gives for a payment it refuses. Others' reasons are read as open
 * strings; ours come from this closed list.
 */
export const reasons = [
  'invalid_payload',
  'payload_too_large',
  'invalid_x402_version',
  'invalid_scheme',
  'invalid_network',
  'payment_requirements_mismatch',
  'invalid_exact_evm_payload_missing_eip712_domain',
  'invalid_exact_evm_signature',
  'invalid_exact_evm_recipient_mismatch',
  'invalid_exact_evm_payload_authorization_valid_after',
  'invalid_exact_evm_payload_authorization_valid_before',
  'invalid_exact_evm_payload_authorization_value_mismatch',
  'invalid_exact_evm_asset_not_deployed',
  'invalid_exact_evm_eip712_domain_mismatch',
  'invalid_exact_evm_nonce_already_used',
  'invalid_exact_evm_transaction_simulation_failed',
  'insufficient_funds',
  'insufficient_credit',
  'payment_in_flight',
  'settlement_pending',
  'settlement_unknown',
  'settlement_failed',
  'price_changed',
  'sign_in_required',
] as const

export type Reason = (typeof reasons)[number]

/** A refused payment, as data. */
export type Invalid = { isValid: false; reason: Reason; message: string; payer?: string }
