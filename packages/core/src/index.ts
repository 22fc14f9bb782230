export type { OptionRule, OptionShape } from './checkOptions.js'
export { checkOptions, nearestKey, rule, unknownKey } from './checkOptions.js'
export { decodeHeader, encodeHeader, headers, maxHeaderBytes } from './codec.js'
export type { CreditReceipt } from './creditReceipt.js'
export type { DevState } from './devState.js'
export { DevStateSchema, readDevState, stateDir } from './devState.js'
export type { ErrorCode, X402ErrorOptions } from './errors.js'
export { errorCodes, httpStatus, X402Error } from './errors.js'
export type { CreatePaymentOptions, SignAuthorizationOptions } from './exact/createPayment.js'
export { createPayment, createPaymentV1, signAuthorization } from './exact/createPayment.js'
export { recoverAddress, secpBackend, signDigest } from './exact/secp.js'
export type { TokenDomain } from './exact/typedData.js'
export { domainSeparator, transferDigest } from './exact/typedData.js'
export type { AuthorizationCheck, VerifyAuthorizationOptions } from './exact/verifyAuthorization.js'
export { validBeforeMargin, verifyAuthorization } from './exact/verifyAuthorization.js'
export {
  exactEvmPayloadOf,
  isPaymentPayload,
  isSettleResponse,
  isVerifyResponse,
  plainJson,
  safeParseJson,
} from './fastChecks.js'
export type { ParseMoneyOptions, Rounding } from './money.js'
export { formatMoney, parseMoney } from './money.js'
export type { Asset, Network } from './networks.js'
export { findNetwork, getNetwork, registerNetwork, toCaip2 } from './networks.js'
export type { Invalid, Reason } from './reasons.js'
export { reasons } from './reasons.js'
export {
  findMatchingRequirements,
  toRequirementsV1,
  toRequirementsV2,
  upgradePayloadV1,
} from './requirements.js'
export type { SiwxCheck, SiwxExtension, SiwxInfo, SiwxPayload } from './siwx.js'
export {
  createSiwxExtension,
  formatSiweMessage,
  personalMessageDigest,
  SiwxPayloadSchema,
  signSiwx,
  siwxExtensionKey,
  siwxHeader,
  verifySiwx,
} from './siwx.js'
export type {
  Authorization,
  ExactEvmPayload,
  FacilitatorRequest,
  PaymentPayload,
  PaymentPayloadV1,
  PaymentRequired,
  PaymentRequirements,
  PaymentRequirementsV1,
  ResourceInfo,
  SettleResponse,
  SupportedResponse,
  VerifyResponse,
} from './types.js'
export {
  AuthorizationSchema,
  ExactEvmPayloadSchema,
  FacilitatorRequestSchema,
  PaymentPayloadSchema,
  PaymentPayloadV1Schema,
  PaymentRequiredSchema,
  PaymentRequirementsSchema,
  PaymentRequirementsV1Schema,
  ResourceInfoSchema,
  SettleResponseSchema,
  SupportedResponseSchema,
  VerifyResponseSchema,
} from './types.js'
