import type { SettleResponse } from '@402x/core'
import type { Hex } from 'viem'
import type { Chain } from './chain.js'
import { findSettlement } from './findSettlement.js'
import type { GasWallet, SentTransaction } from './gasWallet.js'
import type { Receipt } from './transferLog.js'
import { hasTransferLog } from './transferLog.js'
import type { VerifiedExact } from './verifyExact.js'

/** Gas for `transferWithAuthorization`: about 80k with an EOA signature, more for EIP-1271. */
const gasLimit = (data: Hex) => (data.length > 2 + 8 + 64 * 9 ? 300_000n : 150_000n)

/** What to do about a transaction the node holds without mining it (see `settleExact`). */
export type Unstick = {
  /** How long without a receipt before `resend` is asked, and again between its attempts. */
  afterMs: number
  /** Sends the call again if the latest of `hashes` is stuck; resolves the new hash, if any. */
  resend: (latest: Hex) => Promise<Hex | undefined>
}

/**
 * Waits for a receipt of `hash` (or of any transaction in the list, which may grow while it
 * waits), polling quickly at first (a local chain mines at once) and backing off to
 * `maxIntervalMs`. With `unstick`, a transaction still without a receipt after
 * `unstick.afterMs` may be sent again (up to three times). Resolves `undefined` when
 * `timeoutMs` passes.
 */
export async function waitForReceipt(
  chain: Chain,
  hash: Hex | Hex[],
  options: { timeoutMs: number; maxIntervalMs?: number; unstick?: Unstick },
): Promise<Receipt | undefined> {
  const hashes = Array.isArray(hash) ? hash : [hash]
  const started = Date.now()
  const deadline = started + options.timeoutMs
  const { unstick } = options
  let resends = 0
  let interval = 5
  for (;;) {
    for (const h of hashes) {
      const receipt = (await chain.rpc('eth_getTransactionReceipt', [h]).catch(() => null)) as Receipt | null
      if (receipt) return { ...receipt, transactionHash: receipt.transactionHash ?? h }
    }
    if (unstick && resends < 3 && Date.now() - started >= unstick.afterMs * (resends + 1)) {
      resends++
      const again = await unstick.resend(hashes[hashes.length - 1] as Hex).catch(() => undefined)
      if (again) hashes.push(again)
    }
    if (Date.now() + interval > deadline) return undefined
    await new Promise((resolve) => setTimeout(resolve, interval))
    interval = Math.min(interval * 2, options.maxIntervalMs ?? 500)
  }
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
  options: { receiptTimeoutMs: number; onDropped?: () => void; unstick?: Unstick },
): Promise<SettleResponse> {
  const base = { network: chain.network, payer: verified.payer, amount: verified.authorization.value }
  const hashes = [hash]
  const receipt = await waitForReceipt(chain, hashes, {
    timeoutMs: options.receiptTimeoutMs,
    ...(options.unstick ? { unstick: options.unstick } : {}),
  })
  if (!receipt) {
    // Not mined in time. If the node no longer knows any of the transactions sent for it,
    // they were dropped: their nonce will be reused by the next settlement, so they can never
    // land. The authorization is read all the same before it is called a failure: one of them
    // may have been mined between the last poll and now, or another transaction used it.
    const known = await Promise.all(
      hashes.map((h) => chain.rpc('eth_getTransactionByHash', [h]).catch(() => 'unknown')),
    )
    const latest = hashes[hashes.length - 1] as Hex
    if (known.every((k) => k === null)) {
      // Their nonce is free again, whatever became of the authorization.
      options.onDropped?.()
      const proof = await findSettlement(chain, asset, verified.authorization).catch(() => undefined)
      if (proof?.state === 'transferred') return { ...base, success: true, transaction: proof.transaction }
      if (proof === undefined) {
        return {
          ...base,
          success: false,
          errorReason: 'settlement_pending',
          errorMessage: `transaction ${latest} is not confirmed and the chain could not be read; it will be reconciled`,
          transaction: latest,
        }
      }
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
      errorMessage: `transaction ${latest} was sent but is not confirmed yet; it will be reconciled`,
      transaction: latest,
    }
  }
  const mined = receipt.transactionHash ?? hash
  if (receipt.status === '0x1' && hasTransferLog(receipt, asset, verified.authorization)) {
    return { ...base, success: true, transaction: mined }
  }
  const proof = await findSettlement(chain, asset, verified.authorization)
  if (proof.state === 'transferred') return { ...base, success: true, transaction: proof.transaction }
  return {
    ...base,
    success: false,
    errorReason: 'settlement_failed',
    errorMessage: `transaction ${mined} reverted or moved no USDC; nothing was charged`,
    transaction: mined,
  }
}

/**
 * Sends a verified payment's `transferWithAuthorization` from a gas wallet and awaits it
 * (see `awaitSettlement`). A transaction sent whose receipt is not known in time is
 * `settlement_pending` with its hash: it may still land, so it is never a failure.
 *
 * A transaction still unmined after `stuckAfterMs`, whose nonce is the very one the chain
 * waits for while the node does not count it as ready, is held by the node and will not be
 * mined (anvil's send/mine race files it as waiting for a nonce already used,
 * foundry-rs/foundry#10122; every later transaction of the wallet then queues behind it).
 * It is sent again, the same call at the same nonce with higher fees: one of the two can be
 * mined, never both.
 */
export async function settleExact(
  chain: Chain,
  wallet: GasWallet,
  verified: VerifiedExact,
  asset: string,
  options: { receiptTimeoutMs: number; stuckAfterMs?: number; onSent?: (sent: SentTransaction) => void },
): Promise<SettleResponse> {
  wallet.inFlight++
  try {
    const call = { to: asset, data: verified.settleData, gas: gasLimit(verified.settleData) }
    let sent = await wallet.send(call)
    options.onSent?.(sent)
    const resend = async (latest: Hex) => {
      if (latest !== sent.hash) return undefined
      const [tx, mined, ready] = await Promise.all([
        chain.rpc('eth_getTransactionByHash', [latest]) as Promise<{ blockNumber: Hex | null } | null>,
        chain.rpc('eth_getTransactionCount', [wallet.address, 'latest']),
        chain.rpc('eth_getTransactionCount', [wallet.address, 'pending']),
      ])
      if (!tx || tx.blockNumber) return undefined
      if (Number(mined) !== sent.nonce || Number(ready) > sent.nonce) return undefined
      sent = await wallet.resend(sent, call)
      options.onSent?.(sent)
      return sent.hash
    }
    return await awaitSettlement(chain, sent.hash, asset, verified, {
      receiptTimeoutMs: options.receiptTimeoutMs,
      onDropped: () => wallet.resync(),
      ...(options.stuckAfterMs ? { unstick: { afterMs: options.stuckAfterMs, resend } } : {}),
    })
  } finally {
    wallet.inFlight--
  }
}
