import { X402Error } from '@402x/core'
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  encodeFunctionData,
  type Hex,
  http,
  isAddress,
  keccak256,
  parseAbi,
  parseEventLogs,
  RpcRequestError,
  WaitForTransactionReceiptTimeoutError,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

/** Sends an ERC-20 asset from one wallet; see `createOnchainRefunder`. */
export type OnchainRefunder = {
  /**
   * Transfers `amount` (atomic units) of the asset to `to` and resolves once the transfer is
   * confirmed. `ref` (the ledger's payout ref) goes into error details; it does not make the
   * send idempotent: post `payout` in the credit ledger first, which is.
   */
  send(input: { to: string; amount: bigint; ref: string }): Promise<{ transaction: `0x${string}` }>
  /** The wallet the asset is sent from. */
  address: `0x${string}`
}

export type OnchainRefunderOptions = {
  /** The key of the wallet that holds the asset and pays the gas (e.g. the `payTo` wallet). */
  privateKey: `0x${string}`
  /** The chain's JSON-RPC endpoint. */
  rpcUrl: string
  /** The ERC-20 token contract (USDC). */
  asset: `0x${string}`
  /**
   * The chain id transactions are signed for; checked once against the RPC.
   * @default the RPC's `eth_chainId`
   */
  chainId?: number
  /**
   * Blocks a transfer must be in before `send` resolves.
   * @default 1
   */
  confirmations?: number
  /**
   * How long `send` waits for the receipt once the transaction is broadcast.
   * @default 60_000
   */
  timeoutMs?: number
}

const erc20Abi = parseAbi([
  'function transfer(address to, uint256 value) returns (bool)',
  'function balanceOf(address account) view returns (uint256)',
  'event Transfer(address indexed from, address indexed to, uint256 value)',
])

/** `details.moved: false`: nothing left the wallet, so the amount can go back to credit. */
const notMoved = (details: Record<string, unknown>) => ({ ...details, moved: false })

const chainFault = (message: string, cause: unknown, details: Record<string, unknown>, retryable = true) =>
  new X402Error('chain_unavailable', { message, cause, details, retryable })
const reasonOf = (error: unknown) => (error instanceof BaseError ? error.shortMessage : (error as Error).message)

/**
 * Sends ERC-20 transfers (unused credit going back on chain) from one wallet. Sends are
 * serialised, so concurrent calls get consecutive nonces and never collide; receipts are
 * awaited concurrently. A transfer the asset would refuse (e.g. more than the wallet holds) is
 * refused before anything is broadcast. Every failure is an `X402Error` `chain_unavailable`:
 * retryable when the RPC failed, not when the transfer reverted.
 *
 * @example
 * const refunder = createOnchainRefunder({ privateKey, rpcUrl, asset: usdc })
 * const { transaction } = await refunder.send({ to: '0xabc…', amount: 250_000n, ref: payoutId })
 */
export function createOnchainRefunder(options: OnchainRefunderOptions): OnchainRefunder {
  if (!/^0x[0-9a-fA-F]{64}$/.test(options.privateKey))
    throw new X402Error('invalid_config', { message: 'privateKey must be 0x followed by 64 hex characters' })
  if (!isAddress(options.asset, { strict: false }))
    throw new X402Error('invalid_config', { message: `asset must be the token's 0x address, got ${options.asset}` })
  const account = privateKeyToAccount(options.privateKey)
  const client = createPublicClient({ transport: http(options.rpcUrl, { retryCount: 1 }), pollingInterval: 500 })
  const confirmations = options.confirmations ?? 1
  const timeout = options.timeoutMs ?? 60_000
  let chainId: number | undefined
  let nonce: number | undefined
  let queue: Promise<unknown> = Promise.resolve()

  const resolveChainId = async () => {
    if (chainId !== undefined) return chainId
    const actual = await client.getChainId()
    if (options.chainId !== undefined && options.chainId !== actual)
      throw new X402Error('invalid_config', {
        message: `the RPC at ${options.rpcUrl} serves chain ${actual}, not chainId ${options.chainId}: fix rpcUrl or chainId`,
      })
    chainId = actual
    return chainId
  }

  /** Signs and broadcasts one transfer with the next nonce; runs inside the queue. */
  const broadcast = async (to: `0x${string}`, amount: bigint, details: Record<string, unknown>): Promise<Hex> => {
    const id = await resolveChainId()
    let gas: bigint
    try {
      gas = await client.estimateContractGas({
        account,
        address: options.asset,
        abi: erc20Abi,
        functionName: 'transfer',
        args: [to, amount],
      })
    } catch (error) {
      const revert = error instanceof BaseError ? error.walk((e) => e instanceof ContractFunctionRevertedError) : null
      if (!revert) throw error
      const held = await client
        .readContract({ address: options.asset, abi: erc20Abi, functionName: 'balanceOf', args: [account.address] })
        .catch(() => undefined)
      const why =
        held !== undefined && held < amount
          ? `${account.address} holds ${held}, less than ${amount}: fund it or send less`
          : `the token refused it (${reasonOf(revert)})`
      throw chainFault(
        `refund ${details.ref} of ${amount} to ${to} was not sent: ${why}`,
        error,
        notMoved(details),
        false,
      )
    }
    const fees = await client.estimateFeesPerGas()
    nonce ??= await client.getTransactionCount({ address: account.address, blockTag: 'pending' })
    const signed = await account.signTransaction({
      type: 'eip1559',
      chainId: id,
      nonce,
      to: options.asset,
      data: encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [to, amount] }),
      gas,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    })
    const hash = keccak256(signed)
    try {
      await client.sendRawTransaction({ serializedTransaction: signed })
    } catch (error) {
      // Our view of the nonce is uncertain now: read it from the chain before the next send.
      nonce = undefined
      if (error instanceof BaseError && error.walk((e) => e instanceof RpcRequestError))
        throw chainFault(`the node refused refund ${details.ref}: ${reasonOf(error)}`, error, notMoved(details))
      throw chainFault(
        `broadcasting refund ${details.ref} (transaction ${hash}) failed: ${reasonOf(error)}. It may still land: check ${hash} before sending again`,
        error,
        { ...details, transaction: hash, moved: 'unknown' },
        false,
      )
    }
    nonce++
    return hash
  }

  const confirm = async (hash: Hex, to: `0x${string}`, amount: bigint, details: Record<string, unknown>) => {
    const withHash = { ...details, transaction: hash }
    let receipt: Awaited<ReturnType<typeof client.waitForTransactionReceipt>>
    try {
      receipt = await client.waitForTransactionReceipt({ hash, confirmations, timeout })
    } catch (error) {
      const timedOut = error instanceof WaitForTransactionReceiptTimeoutError
      throw chainFault(
        `refund ${details.ref} was sent as ${hash} but ${timedOut ? `no receipt came within ${timeout} ms` : `its receipt could not be read (${reasonOf(error)})`}: it may still land, so check ${hash} before sending again`,
        error,
        { ...withHash, moved: 'unknown' },
        false,
      )
    }
    const transferred = parseEventLogs({ abi: erc20Abi, eventName: 'Transfer', logs: receipt.logs }).some(
      (log) =>
        log.address.toLowerCase() === options.asset.toLowerCase() &&
        log.args.from.toLowerCase() === account.address.toLowerCase() &&
        log.args.to.toLowerCase() === to.toLowerCase() &&
        log.args.value === amount,
    )
    if (receipt.status !== 'success')
      throw chainFault(
        `refund ${details.ref} of ${amount} to ${to} reverted on chain in ${hash} (block ${receipt.blockNumber}): nothing moved; check the balance of ${account.address}`,
        undefined,
        notMoved(withHash),
        false,
      )
    if (!transferred)
      throw chainFault(
        `refund ${details.ref} (${hash}) succeeded but logged no Transfer of ${amount} to ${to}: is ${options.asset} the ERC-20 asset?`,
        undefined,
        withHash,
        false,
      )
  }

  return {
    address: account.address,
    async send({ to, amount, ref }) {
      if (typeof ref !== 'string' || ref.length === 0)
        throw new X402Error('invalid_request', { message: 'ref must be a non-empty string (the payout ref)' })
      if (typeof to !== 'string' || !isAddress(to, { strict: false }))
        throw new X402Error('invalid_request', { message: `to must be a 0x address, got ${to}`, details: { ref } })
      if (typeof amount !== 'bigint' || amount <= 0n)
        throw new X402Error('invalid_request', {
          message: `amount must be a positive bigint of atomic units, got ${amount}`,
          details: { ref },
        })
      const details = { ref, to, amount: String(amount), from: account.address, asset: options.asset }
      const sent = queue.then(() => broadcast(to, amount, details))
      queue = sent.catch(() => undefined)
      let hash: Hex
      try {
        hash = await sent
      } catch (error) {
        if (error instanceof X402Error) throw error
        throw chainFault(
          `refund ${ref} was not sent: the RPC failed (${reasonOf(error)}); retry later`,
          error,
          notMoved(details),
        )
      }
      await confirm(hash, to, amount, details)
      return { transaction: hash }
    },
  }
}
