import { signDigest, X402Error } from '@402x/core'
import { type Hex, keccak256, serializeTransaction } from 'viem'
import { privateKeyToAddress } from 'viem/accounts'
import type { Chain } from './chain.js'
import { RpcError, refusedCodes } from './rpc.js'

export type SentTransaction = {
  hash: Hex
  wallet: string
  nonce: number
  maxFeePerGas: bigint
  maxPriorityFeePerGas: bigint
  /** The signed transaction as sent: sending it again is idempotent (same hash). */
  raw: Hex
}

/** What became of a signed transaction sent again (see `GasWallet.rebroadcast`). */
export type Rebroadcast = 'accepted' | 'taken' | 'unreachable'

type Call = { to: string; data: Hex; gas: bigint }

/**
 * A gas wallet whose nonces are managed here: signing and sending are serialised, so any
 * number of concurrent settlements get consecutive nonces and never collide; receipts are
 * awaited concurrently by the caller.
 */
export type GasWallet = {
  address: string
  /** Settlements sent and not yet confirmed: used to spread load over several wallets. */
  inFlight: number
  /** Signs and broadcasts a transaction with the next nonce. */
  send(tx: Call): Promise<SentTransaction>
  /**
   * Sends `tx` again at the nonce of `sent`, with both fees at least 25% higher (as a node
   * requires of a replacement) and never below the current ones: for a transaction the node
   * holds but does not mine. Either may be mined; they carry the same call.
   */
  resend(sent: SentTransaction, tx: Call): Promise<SentTransaction>
  /** Reads the nonce from the chain again before the next send (after a dropped transaction). */
  resync(): void
  /**
   * Sends the very bytes of `sent` again (same hash: idempotent), in the wallet's queue so
   * that they never replace another of its transactions: `accepted` (the node has it, or
   * took it now), `taken` (another transaction holds its nonce: it can never land) or
   * `unreachable` (no answer; try again later).
   */
  rebroadcast(sent: SentTransaction): Promise<Rebroadcast>
}

type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint; at: number }

/**
 * Thrown when a transaction may or may not have reached the node (a timeout): `sent` holds
 * its signed bytes, to send again until the node is known to have it.
 */
export class MaybeSentError extends X402Error {
  override readonly name = 'MaybeSentError'
  readonly hash: Hex
  constructor(
    readonly sent: SentTransaction,
    override readonly cause: unknown,
  ) {
    super('chain_unavailable', {
      message: `transaction ${sent.hash} may have been sent: ${(cause as Error).message}`,
      details: { transaction: sent.hash },
      cause,
    })
    this.hash = sent.hash
  }
}

/**
 * Thrown when the node refuses a transaction because the gas wallet cannot pay for its gas
 * (`insufficient funds`): nothing was sent, its nonce is still free.
 */
export class OutOfGasError extends X402Error {
  override readonly name = 'OutOfGasError'
  constructor(
    readonly wallet: string,
    override readonly cause: unknown,
  ) {
    super('facilitator_unavailable', {
      message: `gas wallet ${wallet} has too little ETH to pay for gas: ${(cause as Error).message}`,
      details: { wallet },
      cause,
    })
  }
}

export function createGasWallet(chain: Chain, privateKey: Hex): GasWallet {
  const address = privateKeyToAddress(privateKey)
  const key = Buffer.from(privateKey.slice(2), 'hex')
  let nonce: number | undefined
  let fees: Fees | undefined
  let queue: Promise<unknown> = Promise.resolve()

  const currentFees = async (): Promise<Fees> => {
    if (fees && Date.now() - fees.at < 5_000) return fees
    const [block, tip] = await Promise.all([
      chain.rpc('eth_getBlockByNumber', ['latest', false]) as Promise<{ baseFeePerGas?: Hex }>,
      (chain.rpc('eth_maxPriorityFeePerGas', []) as Promise<Hex>).catch(() => '0x3b9aca00' as Hex),
    ])
    const base = BigInt(block.baseFeePerGas ?? '0x3b9aca00')
    const priority = BigInt(tip)
    fees = { maxFeePerGas: base * 2n + priority, maxPriorityFeePerGas: priority, at: Date.now() }
    return fees
  }

  const sign = (tx: Call, at: number, fee: Omit<Fees, 'at'>): SentTransaction => {
    const unsigned = {
      type: 'eip1559' as const,
      chainId: chain.chainId,
      nonce: at,
      to: tx.to as Hex,
      data: tx.data,
      gas: tx.gas,
      maxFeePerGas: fee.maxFeePerGas,
      maxPriorityFeePerGas: fee.maxPriorityFeePerGas,
    }
    const digest = Buffer.from(keccak256(serializeTransaction(unsigned)).slice(2), 'hex')
    const sig = signDigest(digest, key)
    const signed = serializeTransaction(unsigned, {
      r: `0x${Buffer.from(sig.subarray(0, 32)).toString('hex')}`,
      s: `0x${Buffer.from(sig.subarray(32, 64)).toString('hex')}`,
      yParity: (sig[64] as number) - 27,
    })
    return { raw: signed, hash: keccak256(signed), wallet: address, nonce: at, ...fee }
  }

  const sendOnce = async (tx: Call): Promise<SentTransaction> => {
    if (nonce === undefined) {
      nonce = Number(await chain.rpc('eth_getTransactionCount', [address, 'pending']))
    }
    const fee = await currentFees()
    const sent = sign(tx, nonce, fee)
    try {
      await chain.rpc('eth_sendRawTransaction', [sent.raw])
    } catch (error) {
      if (error instanceof RpcError && alreadyKnown.test(error.message)) {
        nonce++
        return sent
      }
      // Any other failure leaves our view of the nonce uncertain: read it again next time.
      nonce = undefined
      if (error instanceof RpcError && /insufficient funds/i.test(error.message)) {
        throw new OutOfGasError(address, error)
      }
      // An answer from the node (RpcError) means it has the request: only a lost call may have sent it.
      if (error instanceof X402Error && !(error instanceof RpcError) && !isRefused(error)) {
        throw new MaybeSentError(sent, error)
      }
      throw error
    }
    nonce++
    return sent
  }

  const wallet: GasWallet = {
    address,
    inFlight: 0,
    resync() {
      queue = queue.then(() => {
        nonce = undefined
      })
    },
    async resend(earlier, tx) {
      fees = undefined
      const now = await currentFees()
      const bump = (value: bigint) => (value * 5n) / 4n + 1n
      const maxPriorityFeePerGas = larger(bump(earlier.maxPriorityFeePerGas), now.maxPriorityFeePerGas)
      const maxFeePerGas = larger(larger(bump(earlier.maxFeePerGas), now.maxFeePerGas), maxPriorityFeePerGas)
      const sent = sign(tx, earlier.nonce, { maxFeePerGas, maxPriorityFeePerGas })
      await chain.rpc('eth_sendRawTransaction', [sent.raw])
      return sent
    },
    rebroadcast(sent) {
      const run = queue.then(async (): Promise<Rebroadcast> => {
        try {
          const pending = Number(await chain.rpc('eth_getTransactionCount', [address, 'pending']))
          if (pending > sent.nonce) {
            // Its nonce is used (mined or pooled): by this very transaction, or by another.
            const known = await chain.rpc('eth_getTransactionByHash', [sent.hash])
            return known ? 'accepted' : 'taken'
          }
          await chain.rpc('eth_sendRawTransaction', [sent.raw])
        } catch (error) {
          if (error instanceof RpcError && alreadyKnown.test(error.message)) return 'accepted'
          if (error instanceof RpcError && /nonce too low|replacement|underpriced/i.test(error.message)) return 'taken'
          return 'unreachable'
        }
        // Taken now: the next send of this wallet goes after it, never replaces it.
        if (nonce !== undefined && nonce <= sent.nonce) nonce = sent.nonce + 1
        return 'accepted'
      })
      queue = run.catch(() => undefined)
      return run
    },
    send(tx) {
      const run = queue.then(async () => {
        try {
          return await sendOnce(tx)
        } catch (error) {
          // A stale nonce (another process used this wallet): resync and try once more.
          if (error instanceof RpcError && /nonce too low|nonce too high|replacement/i.test(error.message)) {
            return sendOnce(tx)
          }
          throw error
        }
      })
      queue = run.catch(() => undefined)
      return run
    },
  }
  return wallet
}

const alreadyKnown = /already known|already imported|known transaction/i
const larger = (a: bigint, b: bigint) => (a > b ? a : b)

/** Refused before sending (connection refused, unknown host): the node never saw it. */
function isRefused(error: X402Error): boolean {
  return refusedCodes.has(String(error.details.code ?? ''))
}
