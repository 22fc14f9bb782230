import type { SettleResponse } from '@402x/core'
import type { Hex } from 'viem'
import type { Chain } from './chain.js'
import { findSettlement } from './findSettlement.js'
import type { GasWallet } from './gasWallet.js'
import type { VerifiedExact } from './verifyExact.js'

export type Receipt = {
  status: Hex
  logs: { address: string; topics: Hex[]; data: Hex }[]
}

/** Gas for `transferWithAuthorization`: about 80k with an EOA signature, more for EIP-1271. */
const gasLimit = (data: Hex) => (data.length > 2 + 8 + 64 * 9 ? 300_000n : 150_000n)

/**
 * Waits for a receipt, polling quickly at first (a local chain mines at once) and backing
 * off to `maxIntervalMs`. Resolves `undefined` when `timeoutMs` passes.
 */
export async function waitForReceipt(
  chain: Chain,
  hash: Hex,
  options: { timeoutMs: number; maxIntervalMs?: number },
): Promise<Receipt | undefined> {
  const deadline = Date.now() + options.timeoutMs
  let interval = 5
  for (;;) {
    const receipt = (await chain.rpc('eth_getTransactionReceipt', [hash]).catch(() => null)) as Receipt | null
    if (receipt) return receipt
    if (Date.now() + interval > deadline) return undefined
    await new Promise((resolve) => setTimeout(resolve, interval))
    interval = Math.min(interval * 2, options.maxIntervalMs ?? 500)
  }
}

/** keccak256("Transfer(address,address,uint256)") */
const transferTopic = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'
const topicAddress = (topic: string | undefined) => `0x${(topic ?? '').slice(-40)}`.toLowerCase()

/** Checks the receipt carries `Transfer(from, to, value)` from the asset. */
export function hasTransferLog(
  receipt: Receipt,
  asset: string,
  auth: { from: string; to: string; value: string },
): boolean {
  return receipt.logs.some(
    (log) =>
      log.address.toLowerCase() === asset.toLowerCase() &&
      log.topics[0] === transferTopic &&
      topicAddress(log.topics[1]) === auth.from.toLowerCase() &&
      topicAddress(log.topics[2]) === auth.to.toLowerCase() &&
      log.data !== '0x' &&
      BigInt(log.data) === BigInt(auth.value),
  )
}

/**
 * Waits for a settlement transaction and reads its outcome: settled (receipt with the
 * Transfer log), pending (not confirmed in time), or failed. A revert is checked against the
 * chain: if the same authorization was settled by another transaction, it is settled.
 */
export async function awaitSettlement(
  chain: Chain,
  hash: Hex,
  asset: string,
  verified: Pick<VerifiedExact, 'payer' | 'authorization'>,
  options: { receiptTimeoutMs: number; onDropped?: () => void },
): Promise<SettleResponse> {
  const base = { network: chain.network, payer: verified.payer, amount: verified.authorization.value }
  const receipt = await waitForReceipt(chain, hash, { timeoutMs: options.receiptTimeoutMs })
  if (!receipt) {
    // Not mined in time. If the node no longer knows it, it was dropped: its nonce will be
    // reused by the next settlement, so it can never land, and nothing was charged.
    const known = await chain.rpc('eth_getTransactionByHash', [hash]).catch(() => 'unknown')
    if (known === null) {
      options.onDropped?.()
      return {
        ...base,
        success: false,
        errorReason: 'settlement_failed',
        errorMessage: `transaction ${hash} was dropped by the node; nothing was charged`,
        transaction: '',
      }
    }
    return {
      ...base,
      success: false,
      errorReason: 'settlement_pending',
      errorMessage: `transaction ${hash} was sent but is not confirmed yet; it will be reconciled`,
      transaction: hash,
    }
  }
  if (receipt.status === '0x1' && hasTransferLog(receipt, asset, verified.authorization)) {
    return { ...base, success: true, transaction: hash }
  }
  const proof = await findSettlement(chain, asset, verified.authorization)
  if (proof.state === 'transferred') return { ...base, success: true, transaction: proof.transaction }
  return {
    ...base,
    success: false,
    errorReason: 'settlement_failed',
    errorMessage: `transaction ${hash} reverted or moved no USDC; nothing was charged`,
    transaction: hash,
  }
}

/**
 * Sends a verified payment's `transferWithAuthorization` from a gas wallet and awaits it
 * (see `awaitSettlement`). A transaction sent whose receipt is not known in time is
 * `settlement_pending` with its hash: it may still land, so it is never a failure.
 */
export async function settleExact(
  chain: Chain,
  wallet: GasWallet,
  verified: VerifiedExact,
  asset: string,
  options: { receiptTimeoutMs: number; onSent?: (hash: Hex) => void },
): Promise<SettleResponse> {
  wallet.inFlight++
  try {
    const { hash } = await wallet.send({ to: asset, data: verified.settleData, gas: gasLimit(verified.settleData) })
    options.onSent?.(hash)
    return await awaitSettlement(chain, hash, asset, verified, {
      receiptTimeoutMs: options.receiptTimeoutMs,
      onDropped: () => wallet.resync(),
    })
  } finally {
    wallet.inFlight--
  }
}
