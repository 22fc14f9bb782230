import {
  checkOptions,
  getNetwork,
  type Invalid,
  type PaymentPayload,
  type PaymentPayloadV1,
  type PaymentRequirements,
  type PaymentRequirementsV1,
  type SettleResponse,
  type SupportedResponse,
  toRequirementsV2,
  upgradePayloadV1,
  X402Error,
} from '@402x/core'
import type { Hex } from 'viem'
import { type Chain, createChain } from './chain.js'
import { findSettlement } from './findSettlement.js'
import { gasKeysOf } from './gasKeys.js'
import { type GasWallet, MaybeSentError, OutOfGasError, type SentTransaction } from './gasWallet.js'
import { createGasWalletPool, type GasWalletPool, type GasWalletStatus } from './gasWalletPool.js'
import { createHeldTransactions, type Held } from './heldTransactions.js'
import { facilitatorRules } from './optionRules.js'
import { recentMap } from './recentMap.js'
import { awaitSettlement, settleExact, waitForReceipt } from './settleExact.js'
import { settleHeld } from './settleHeld.js'
import { hasTransferLog } from './transferLog.js'
import type { FacilitatorLike, ReconcileRequest, SettlementStatus } from './types.js'
import { type VerifiedExact, verifyExact } from './verifyExact.js'

/** The gas wallets' private keys, under either name (never both). */
export type GasWalletKeys =
  | {
      /**
       * Private keys of the gas wallets that send settlements (they pay the gas; they hold no
       * USDC). Each wallet keeps its own nonce sequence; settlements go to the wallet with the
       * fewest in flight. Several facilitator instances may run, each with its own wallets,
       * never one wallet in two instances.
       */
      gasWallets: Hex[]
      privateKeys?: never
    }
  | {
      /** The same as `gasWallets`, under its earlier name. */
      privateKeys: Hex[]
      gasWallets?: never
    }

export type FacilitatorOptions = GasWalletKeys & {
  /** The chains to serve, each with an RPC URL. */
  chains: { network: string; rpcUrl: string }[]
  /**
   * How long a gas wallet the node refused for want of ETH for gas stays out of rotation
   * before it is tried again (its settlements go to the other wallets meanwhile). @default 30000
   */
  outOfGasPauseMs?: number
  /** How long to wait for a settlement receipt before answering `settlement_pending`. @default 30000 */
  receiptTimeoutMs?: number
  /**
   * How long a settlement may go unmined before it is checked for being stuck in the node's
   * pool (its nonce the one the chain waits for, yet not ready), and if so sent again with
   * higher fees. 0 turns the check off. @default 5000
   */
  stuckAfterMs?: number
  /** How long one JSON-RPC call may go unanswered before it counts as failed. @default 10000 */
  rpcTimeoutMs?: number
  /**
   * After a send that got no answer, how long the transaction is sent again and looked up
   * before the settlement is answered `settlement_unknown` (a node that does not know a
   * transaction cannot mine it: nothing may be served for it yet). @default 10000
   */
  confirmTimeoutMs?: number
  /**
   * How often a settlement whose outcome is unknown or unconfirmed is sent again (the same
   * signed bytes) in the background, until it is mined, its nonce is taken, or its
   * authorization expires. 0 turns it off. @default 5000
   */
  resendIntervalMs?: number
}

export type Facilitator = FacilitatorLike & {
  /** The gas wallet addresses. */
  signers: string[]
  /** Each gas wallet of each chain: settlements in flight, and whether it is out of gas. */
  gasWallets(): (GasWalletStatus & { network: string })[]
  /** Stops re-sending held settlements in the background. */
  close(): void
}

type Entry = { chain: Chain; pool: GasWalletPool }

type Normalized = { payload: PaymentPayload; requirements: PaymentRequirements; x402Version: 1 | 2 }

/**
 * An x402 facilitator in process: verifies and settles `exact` EVM payments.
 *
 * @example
 * const facilitator = createFacilitator({
 *   chains: [{ network: 'eip155:84532', rpcUrl: 'https://sepolia.base.org' }],
 *   gasWallets: process.env.X402_GAS_KEYS.split(','),
 * })
 * const result = await facilitator.verify(paymentPayload, paymentRequirements)
 */
export function createFacilitator(options: FacilitatorOptions): Facilitator {
  checkOptions(options, facilitatorRules, 'createFacilitator()')
  const keys = gasKeysOf(options)
  const pauseMs = options.outOfGasPauseMs ?? 30_000
  const chains = new Map<string, Entry>()
  for (const { network, rpcUrl } of options.chains) {
    const { id, chainId } = getNetwork(network)
    const chain = createChain({ network: id, chainId, rpcUrl, rpcTimeoutMs: options.rpcTimeoutMs ?? 10_000 })
    chains.set(id, { chain, pool: createGasWalletPool(chain, keys, { pauseMs }) })
  }
  const signers = [...new Set([...chains.values()].flatMap((c) => c.pool.wallets.map((w) => w.address)))]
  const receiptTimeoutMs = options.receiptTimeoutMs ?? 30_000
  const stuckAfterMs = options.stuckAfterMs ?? 5_000
  const confirmTimeoutMs = options.confirmTimeoutMs ?? options.rpcTimeoutMs ?? 10_000
  const holds = createHeldTransactions({ intervalMs: options.resendIntervalMs ?? 5_000 })
  /** Keeps the transaction of an unfinished outcome to send again; lets go of a final one. */
  const holdIfOpen = (key: string, held: Held | undefined, result: SettleResponse) => {
    if (held && (result.errorReason === 'settlement_pending' || result.errorReason === 'settlement_unknown')) {
      holds.hold(key, held)
    } else holds.release(key)
  }
  const inFlight = new Set<string>()
  // Payments simulated by `verify` in the last 30 s: their settlement skips a second
  // simulation (one RPC round trip and one EVM execution less per paid request).
  const simulated = recentMap<true>(10_000, 30_000)
  const simulatedKey = (n: Normalized) => {
    const p = n.payload.payload as { signature?: string; authorization?: { from?: string; nonce?: string } }
    return `${n.requirements.network}|${n.requirements.asset}|${p.authorization?.from}|${p.authorization?.nonce}|${p.signature}`.toLowerCase()
  }
  // Authorizations whose settlement was already attempted here: only the first attempt may
  // skip the simulation; a later one (a duplicate) is simulated and refused with its reason.
  const attempted = recentMap<true>(100_000, 600_000)
  // The transaction sent for each authorization, and the wallet that sent it, for idempotent
  // retries of `settle` (a retry finds the hash; a drop found then frees that wallet's nonce).
  const sentFor = recentMap<{ hash: Hex; final: boolean; wallet?: GasWallet }>(100_000, 600_000)
  const open = (result: SettleResponse) =>
    result.errorReason === 'settlement_pending' || result.errorReason === 'settlement_unknown'
  const rememberSent = (key: string, hash: Hex, final: boolean, wallet?: GasWallet) =>
    sentFor.set(key, { hash, final, ...(wallet ? { wallet } : {}) })
  const track = async (key: string, hash: Hex, wallet: GasWallet | undefined, wait: () => Promise<SettleResponse>) => {
    const result = await wait()
    rememberSent(key, hash, !open(result), wallet)
    return result
  }

  const normalize = (
    payload: PaymentPayload | PaymentPayloadV1,
    requirements: PaymentRequirements | PaymentRequirementsV1,
  ): Normalized | undefined => {
    const ours = toRequirementsV2(requirements)
    if (payload.x402Version === 2) return { payload, requirements: ours, x402Version: 2 }
    const upgraded = upgradePayloadV1(payload, [ours])
    return upgraded ? { payload: upgraded, requirements: ours, x402Version: 1 } : undefined
  }

  const lookup = (network: string) => chains.get(network)

  const verifyNormalized = async (
    n: Normalized,
    skipSimulation = false,
  ): Promise<{ entry: Entry; result: VerifiedExact } | { entry?: never; result: Invalid }> => {
    const entry = lookup(n.requirements.network)
    if (!entry) {
      const message = `this facilitator does not serve ${n.requirements.network}; it serves ${[...chains.keys()].join(', ')}`
      return { result: { isValid: false, reason: 'invalid_network', message } }
    }
    const simulateFrom = entry.pool.wallets[0]?.address as string
    const result = await verifyExact(entry.chain, n.payload, n.requirements, { simulateFrom, skipSimulation })
    return result.isValid ? { entry, result } : { result }
  }

  const verify: Facilitator['verify'] = async (payload, requirements) => {
    const n = normalize(payload, requirements)
    if (!n)
      return {
        isValid: false,
        invalidReason: 'invalid_network',
        invalidMessage: 'the payload network does not match the requirements',
      }
    const { result } = await verifyNormalized(n)
    if (result.isValid) {
      simulated.set(simulatedKey(n), true)
      return { isValid: true, payer: result.payer }
    }
    return {
      isValid: false,
      invalidReason: result.reason,
      invalidMessage: result.message,
      ...(result.payer ? { payer: result.payer } : {}),
    }
  }

  const settle: Facilitator['settle'] = async (payload, requirements): Promise<SettleResponse> => {
    const n = normalize(payload, requirements)
    const network = n?.requirements.network ?? toRequirementsV2(requirements).network
    const failed = (errorReason: string, errorMessage: string, payer?: string): SettleResponse => ({
      success: false,
      errorReason,
      errorMessage,
      transaction: '',
      network,
      ...(payer ? { payer } : {}),
    })
    if (!n) return failed('invalid_network', 'the payload network does not match the requirements')
    const auth = (n.payload.payload as { authorization?: { from?: string; nonce?: string } }).authorization
    const key = `${network}:${n.requirements.asset}:${auth?.from}:${auth?.nonce}`.toLowerCase()
    if (inFlight.has(key)) {
      return failed('payment_in_flight', 'this authorization is already being settled; it is served once', auth?.from)
    }
    inFlight.add(key)
    try {
      const a = auth as { from: string; nonce: string; to?: string; value?: string; validBefore?: string }
      const known = {
        payer: a.from,
        authorization: {
          from: a.from,
          to: a.to ?? n.requirements.payTo,
          value: a.value ?? n.requirements.amount,
          nonce: a.nonce,
          validBefore: a.validBefore ?? '0',
        },
      }
      // A settlement whose transaction is held (its send got no answer, or it was not
      // confirmed) goes on with the very same bytes: sent again, looked up, awaited. Only if
      // they can never land (their nonce taken) and the authorization is unused is a fresh
      // transaction sent, below.
      const held = holds.get(key)
      if (held) {
        const result = await settleHeld(held, n.requirements.asset, known, { confirmTimeoutMs, receiptTimeoutMs })
        if (result !== 'unused') {
          holdIfOpen(key, held, result)
          rememberSent(key, held.sent.hash, !open(result), held.wallet)
          return result
        }
        holds.release(key)
        sentFor.delete(key)
      }
      // A retry of a settlement left pending (say, after a caller's timeout) awaits the
      // transaction already sent instead of sending a second one. A settlement that ended
      // (settled or failed) is not repeated: a replay is verified, and refused, as new.
      const earlier = sentFor.get(key)?.value
      const entryForEarlier = earlier && !earlier.final ? lookup(network) : undefined
      if (earlier && entryForEarlier) {
        const { wallet } = earlier
        return await track(key, earlier.hash, wallet, () =>
          awaitSettlement(entryForEarlier.chain, earlier.hash, n.requirements.asset, known, {
            receiptTimeoutMs,
            ...(wallet ? { onDropped: () => wallet.resync() } : {}),
          }),
        )
      }
      const sKey = simulatedKey(n)
      const at = simulated.get(sKey)?.at
      const fresh = at !== undefined && Date.now() - at < 30_000 && !attempted.has(key)
      simulated.delete(sKey)
      attempted.set(key, true)
      const { entry, result } = await verifyNormalized(n, fresh)
      if (!entry) return failed(result.reason, result.message, result.payer)
      // A wallet the node refuses for want of gas sent nothing: it leaves the rotation, and
      // the settlement goes to the next wallet; with none left, it fails, nothing charged.
      const tried = new Set<GasWallet>()
      const refusals: OutOfGasError[] = []
      const validBefore = BigInt(result.authorization.validBefore)
      // A send that never reached the node and whose nonce another transaction took can never
      // land: the authorization being unused, it is sent once more as a fresh transaction.
      for (let attempt = 0; ; ) {
        const wallet = entry.pool.pick(tried)
        if (!wallet) return failed('settlement_failed', outOfGasMessage(entry.pool, refusals), result.payer)
        let latest: SentTransaction | undefined
        try {
          const settled = await settleExact(entry.chain, wallet, result, n.requirements.asset, {
            receiptTimeoutMs,
            stuckAfterMs,
            onSent: (sent) => {
              latest = sent
              rememberSent(key, sent.hash, false, wallet)
            },
          })
          holdIfOpen(key, latest && { chain: entry.chain, wallet, sent: latest, validBefore }, settled)
          if (settled.transaction) rememberSent(key, settled.transaction as Hex, !open(settled), wallet)
          return settled
        } catch (error) {
          if (error instanceof OutOfGasError) {
            entry.pool.outOfGas(wallet, error)
            tried.add(wallet)
            refusals.push(error)
            continue
          }
          if (!(error instanceof MaybeSentError)) throw error
          // The send got no answer: the node may never have seen it, so it is not pending yet.
          const unsure: Held = { chain: entry.chain, wallet, sent: error.sent, validBefore }
          rememberSent(key, error.hash, false, wallet)
          const options = { confirmTimeoutMs, receiptTimeoutMs }
          const settled = await settleHeld(unsure, n.requirements.asset, result, options)
          if (settled === 'unused') {
            rememberSent(key, error.hash, true, wallet)
            holds.release(key)
            if (attempt++ === 0) continue
            return failed(
              'settlement_failed',
              `transaction ${error.hash} never reached the node and its nonce went to another transaction; nothing was charged`,
              result.payer,
            )
          }
          holdIfOpen(key, unsure, settled)
          rememberSent(key, error.hash, !open(settled), wallet)
          return settled
        }
      }
    } finally {
      inFlight.delete(key)
    }
  }

  const reconcile = async (request: ReconcileRequest): Promise<SettlementStatus> => {
    const n = normalize(request.paymentPayload, request.paymentRequirements)
    if (!n) return { state: 'failed', reason: 'invalid_network' }
    const entry = lookup(n.requirements.network)
    if (!entry) {
      throw new X402Error('invalid_request', { message: `network ${n.requirements.network} is not served here` })
    }
    const auth = (
      n.payload.payload as {
        authorization: { from: string; to: string; value: string; nonce: string; validBefore: string }
      }
    ).authorization
    const asset = n.requirements.asset
    // The chain's clock first: if the authorization had expired by this block, it can never
    // be used later, whatever the reads below find.
    const block = (await entry.chain.rpc('eth_getBlockByNumber', ['latest', false])) as { timestamp: string }
    if (request.transaction) {
      const receipt = await waitForReceipt(entry.chain, request.transaction as Hex, { timeoutMs: 0 })
      if (receipt?.status === '0x1' && hasTransferLog(receipt, asset, auth)) {
        return { state: 'settled', transaction: request.transaction }
      }
    }
    const proof = await findSettlement(entry.chain, asset, auth)
    if (proof.state === 'transferred') return { state: 'settled', transaction: proof.transaction }
    if (proof.state === 'void') return { state: 'failed', reason: proof.reason }
    if (BigInt(auth.validBefore) <= BigInt(block.timestamp)) {
      return { state: 'failed', reason: 'authorization expired unused' }
    }
    return request.transaction ? { state: 'pending', transaction: request.transaction } : { state: 'pending' }
  }

  return {
    signers,
    gasWallets: () =>
      [...chains].flatMap(([network, { pool }]) => pool.status().map((wallet) => ({ network, ...wallet }))),
    close: () => holds.close(),
    async supported(): Promise<SupportedResponse> {
      return {
        kinds: [...chains.keys()].flatMap((network) => [
          { x402Version: 2, scheme: 'exact', network },
          { x402Version: 1, scheme: 'exact', network: getNetwork(network).v1Name },
        ]),
        extensions: [],
        signers: { 'eip155:*': signers },
      }
    },
    verify,
    settle,
    reconcile,
  }
}

/** Why a settlement found no gas wallet to send it: each one's refusal, and what to do. */
function outOfGasMessage(pool: GasWalletPool, refusals: OutOfGasError[]): string {
  const short = [
    ...refusals.map((r) => ({ address: r.wallet, message: r.message })),
    ...pool
      .status()
      .filter((w) => w.outOfGas && !refusals.some((r) => r.wallet === w.address))
      .map((w) => ({ address: w.address, message: w.outOfGas?.message })),
  ]
  return `no gas wallet can pay for gas: ${short.map((w) => w.message).join('; ')}; nothing was charged. Fund ${short.map((w) => w.address).join(', ')} with ETH on this chain`
}
