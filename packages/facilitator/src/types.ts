import type {
  PaymentPayload,
  PaymentPayloadV1,
  PaymentRequirements,
  PaymentRequirementsV1,
  SettleResponse,
  SupportedResponse,
  VerifyResponse,
} from '@402x/core'

/** Where a settlement stands, as reconciliation finds it on chain. */
export type SettlementStatus =
  | { state: 'settled'; transaction: string }
  | { state: 'failed'; reason: string }
  | { state: 'pending'; transaction?: string }

export type ReconcileRequest = {
  paymentPayload: PaymentPayload | PaymentPayloadV1
  paymentRequirements: PaymentRequirements | PaymentRequirementsV1
  /** The transaction hash, when one was reported. */
  transaction?: string
}

/**
 * What a resource server needs from a facilitator: in process (`createFacilitator`) or
 * remote (`createFacilitatorClient`).
 */
export type FacilitatorLike = {
  supported(): Promise<SupportedResponse>
  verify(
    paymentPayload: PaymentPayload | PaymentPayloadV1,
    paymentRequirements: PaymentRequirements | PaymentRequirementsV1,
  ): Promise<VerifyResponse>
  settle(
    paymentPayload: PaymentPayload | PaymentPayloadV1,
    paymentRequirements: PaymentRequirements | PaymentRequirementsV1,
  ): Promise<SettleResponse>
  /** A 402x extension: the final state of a settlement, read from the chain. */
  reconcile(request: ReconcileRequest): Promise<SettlementStatus>
}
