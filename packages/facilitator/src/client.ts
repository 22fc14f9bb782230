// The light entry point (`@402x/facilitator/client`): a remote facilitator client and the
// shared types, without the chain code, so a resource server loads no RPC or ABI code.

export type { FacilitatorClientOptions } from './createFacilitatorClient.js'
export { createFacilitatorClient } from './createFacilitatorClient.js'
export type { FacilitatorLike, ReconcileRequest, SettlementStatus } from './types.js'
