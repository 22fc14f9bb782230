import { keccak_256 } from '@noble/hashes/sha3'
import type { Chain } from './chain.js'
import { hasTransferLog, type Receipt } from './transferLog.js'

const topic = (signature: string) => `0x${Buffer.from(keccak_256(Buffer.from(signature))).toString('hex')}`
const authorizationUsed = topic('AuthorizationUsed(address,bytes32)')
const authorizationCanceled = topic('AuthorizationCanceled(address,bytes32)')
const pad = (address: string) => `0x${address.slice(2).toLowerCase().padStart(64, '0')}`

/** How far back to look for the transfer, in blocks (about a day on Base). */
const lookback = 50_000n

export type Authorization = { from: string; to: string; value: string; nonce: string }

export type SettlementProof =
  | { state: 'transferred'; transaction: string }
  | { state: 'unused' }
  /** Canceled by the payer, or used without moving the payment: nothing was paid. */
  | { state: 'void'; reason: string }

/**
 * What became of an authorization on chain, with proof. `authorizationState` alone is not
 * proof of payment: a payer can burn their own nonce with `cancelAuthorization`. Payment is
 * proven only by a successful transaction that logged `AuthorizationUsed(from, nonce)` and
 * `Transfer(from, payTo, value)`.
 */
export async function findSettlement(chain: Chain, asset: string, auth: Authorization): Promise<SettlementProof> {
  const used = await chain.readToken<boolean>(asset, 'authorizationState', [auth.from, auth.nonce])
  if (!used) return { state: 'unused' }
  const latest = BigInt((await chain.rpc('eth_blockNumber', [])) as string)
  const fromBlock = `0x${(latest > lookback ? latest - lookback : 0n).toString(16)}`
  const logs = (await chain.rpc('eth_getLogs', [
    {
      address: asset,
      fromBlock,
      toBlock: 'latest',
      topics: [[authorizationUsed, authorizationCanceled], pad(auth.from), auth.nonce.toLowerCase()],
    },
  ])) as { transactionHash: string; topics: string[] }[]
  for (const log of logs) {
    if (log.topics[0] !== authorizationUsed) continue
    const receipt = (await chain.rpc('eth_getTransactionReceipt', [log.transactionHash])) as Receipt | null
    if (receipt?.status === '0x1' && hasTransferLog(receipt, asset, auth)) {
      return { state: 'transferred', transaction: log.transactionHash }
    }
  }
  if (logs.some((log) => log.topics[0] === authorizationCanceled)) {
    return { state: 'void', reason: 'the payer canceled the authorization' }
  }
  return { state: 'void', reason: 'the authorization was used without paying this resource' }
}
