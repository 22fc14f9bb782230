import {
  ExactEvmPayloadSchema,
  findMatchingRequirements,
  type Invalid,
  type PaymentPayload,
  type PaymentRequirements,
  verifyAuthorization,
  X402Error,
} from '@402x/core'
import { encodeFunctionData, type Hex, parseSignature } from 'viem'
import { erc1271Abi, erc1271MagicValue, tokenAbi } from './abi.js'
import type { Chain } from './chain.js'
import { RpcError } from './rpc.js'

export type VerifiedExact = {
  isValid: true
  payer: string
  /** The `transferWithAuthorization` call data that settles this payment. */
  settleData: Hex
  authorization: { from: string; to: string; value: string; nonce: string; validBefore: string }
}

/**
 * Verifies an `exact` EVM payment with every check in PROTOCOL.md, in order: scheme and
 * network, EIP-712 domain, signature (EIP-1271 for contract wallets), recipient, validity
 * window, amount, asset deployed, and a simulation of the transfer. A failed simulation is
 * explained from `balanceOf`, `authorizationState`, `name()` and `version()`.
 *
 * Chain outages are thrown (`chain_unavailable`); refusals are returned as data.
 */
export async function verifyExact(
  chain: Chain,
  payload: PaymentPayload,
  requirements: PaymentRequirements,
  options: {
    simulateFrom: string
    now?: number
    /**
     * Skip the `eth_call` simulation: for a settlement of a payment this facilitator simulated
     * moments ago. A transfer that would now revert fails on chain instead, charging nothing.
     */
    skipSimulation?: boolean
  },
): Promise<VerifiedExact | Invalid> {
  const fail = (reason: Invalid['reason'], message: string, payer?: string): Invalid => ({
    isValid: false,
    reason,
    message,
    ...(payer ? { payer } : {}),
  })
  if (payload.accepted.scheme !== requirements.scheme || requirements.scheme !== 'exact') {
    return fail('invalid_scheme', `scheme "${payload.accepted.scheme}" does not match "${requirements.scheme}"`)
  }
  if (payload.accepted.network !== requirements.network || requirements.network !== chain.network) {
    return fail(
      'invalid_network',
      `network "${payload.accepted.network}" does not match "${requirements.network}" served by this facilitator on ${chain.network}`,
    )
  }
  if (!findMatchingRequirements(payload.accepted, [requirements])) {
    return fail(
      'payment_requirements_mismatch',
      'the accepted requirements differ from the ones offered (amount, asset, payTo or timeout); pay the requirements of a fresh 402',
    )
  }
  const parsed = ExactEvmPayloadSchema.safeParse(payload.payload)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return fail('invalid_payload', `payload.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`)
  }
  const exact = parsed.data
  const auth = exact.authorization
  let contractSignature = false
  const check = await verifyAuthorization({
    payload: exact,
    requirements,
    ...(options.now === undefined ? {} : { now: options.now }),
    isValidContractSignature: async (from, digest, signature) => {
      if (!(await chain.hasCode(from))) return false
      const data = encodeFunctionData({
        abi: erc1271Abi,
        functionName: 'isValidSignature',
        args: [`0x${Buffer.from(digest).toString('hex')}`, signature as Hex],
      })
      try {
        const result = await chain.call(from, data)
        contractSignature = result.slice(0, 10).toLowerCase() === erc1271MagicValue
        return contractSignature
      } catch (error) {
        if (error instanceof RpcError) return false
        throw error
      }
    },
  })
  if (!check.isValid) return check
  if (!(await chain.hasCode(requirements.asset))) {
    return fail(
      'invalid_exact_evm_asset_not_deployed',
      `no contract is deployed at asset ${requirements.asset} on ${chain.network}`,
      auth.from,
    )
  }
  const args = [
    auth.from,
    auth.to,
    BigInt(auth.value),
    BigInt(auth.validAfter),
    BigInt(auth.validBefore),
    auth.nonce,
  ] as const
  let settleData: Hex
  if (contractSignature) {
    settleData = encodeFunctionData({
      abi: tokenAbi,
      functionName: 'transferWithAuthorization',
      args: [...args, exact.signature as Hex],
    } as never)
  } else {
    const { v, r, s, yParity } = parseSignature(exact.signature as Hex)
    settleData = encodeFunctionData({
      abi: tokenAbi,
      functionName: 'transferWithAuthorization',
      args: [...args, Number(v ?? BigInt(yParity + 27)), r, s],
    } as never)
  }
  if (options.skipSimulation) return { isValid: true, payer: auth.from, settleData, authorization: auth }
  try {
    await chain.call(requirements.asset, settleData, options.simulateFrom)
  } catch (error) {
    if (!(error instanceof RpcError)) throw error
    // Only a revert says something about the payment; any other node error (rate limit,
    // internal error) is an outage, answered 503, never a refusal.
    if (error.rpcCode !== 3 && !/revert/i.test(error.message)) {
      throw new X402Error('chain_unavailable', {
        message: `the chain RPC failed to simulate the transfer: ${error.message}`,
        cause: error,
      })
    }
    return explainRevert(chain, requirements, auth, error)
  }
  return { isValid: true, payer: auth.from, settleData, authorization: auth }
}

async function explainRevert(
  chain: Chain,
  requirements: PaymentRequirements,
  auth: { from: string; value: string; nonce: string; validAfter: string; validBefore: string },
  error: RpcError,
): Promise<Invalid> {
  const asset = requirements.asset
  const [block, balance, used, name, version] = await Promise.all([
    (chain.rpc('eth_getBlockByNumber', ['latest', false]) as Promise<{ timestamp?: string } | null>).catch(
      () => undefined,
    ),
    chain.readToken<bigint>(asset, 'balanceOf', [auth.from]).catch(() => undefined),
    chain.readToken<boolean>(asset, 'authorizationState', [auth.from, auth.nonce]).catch(() => undefined),
    chain.readToken<string>(asset, 'name').catch(() => undefined),
    chain.readToken<string>(asset, 'version').catch(() => undefined),
  ])
  const payer = auth.from
  // The token checks the window against the block's clock, which can lag the wall clock
  // that the offline checks used: a window the chain has not reached yet reads as a revert.
  const chainNow = block?.timestamp ? BigInt(block.timestamp) : undefined
  if (chainNow !== undefined && BigInt(auth.validAfter) >= chainNow) {
    return {
      isValid: false,
      reason: 'invalid_exact_evm_payload_authorization_valid_after',
      message: `authorization is not valid until after ${auth.validAfter}, and the chain's latest block is at ${chainNow}: sign with validAfter 0 (or in the past), or retry the same payment in a few seconds`,
      payer,
    }
  }
  if (chainNow !== undefined && BigInt(auth.validBefore) <= chainNow) {
    return {
      isValid: false,
      reason: 'invalid_exact_evm_payload_authorization_valid_before',
      message: `authorization expired at ${auth.validBefore} by the chain's clock (latest block at ${chainNow}); sign a new payment`,
      payer,
    }
  }
  if (used === true) {
    return {
      isValid: false,
      reason: 'invalid_exact_evm_nonce_already_used',
      message: `authorization nonce ${auth.nonce} of ${payer} was already used on chain; sign a new payment`,
      payer,
    }
  }
  if (balance !== undefined && balance < BigInt(auth.value)) {
    return {
      isValid: false,
      reason: 'insufficient_funds',
      message: `${payer} holds ${balance} atomic units of ${asset}, less than the ${auth.value} required`,
      payer,
    }
  }
  const extra = requirements.extra ?? {}
  if ((name !== undefined && name !== extra.name) || (version !== undefined && version !== extra.version)) {
    return {
      isValid: false,
      reason: 'invalid_exact_evm_eip712_domain_mismatch',
      message: `the token's EIP-712 domain is ${name}/${version}, but the requirements say ${String(extra.name)}/${String(extra.version)}`,
      payer,
    }
  }
  return {
    isValid: false,
    reason: 'invalid_exact_evm_transaction_simulation_failed',
    message: `the transfer would revert: ${error.message}`,
    payer,
  }
}
