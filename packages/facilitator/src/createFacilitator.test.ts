import { createPayment, type PaymentRequirements, registerNetwork } from '@402x/core'
import { type Devchain, fiatTokenAbi, startDevchain } from '@402x/devchain'
import { createWalletClient, http, parseSignature } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFacilitator, type Facilitator } from './createFacilitator.js'

let chain: Devchain
let facilitator: Facilitator
let requirements: PaymentRequirements

beforeAll(async () => {
  chain = await startDevchain({ buyers: 3 })
  registerNetwork(chain.networkEntry)
  facilitator = createFacilitator({
    chains: [{ network: chain.network, rpcUrl: chain.rpcUrl }],
    privateKeys: [chain.facilitator.privateKey],
  })
  requirements = {
    scheme: 'exact',
    network: chain.network,
    amount: '10000',
    asset: chain.usdc,
    payTo: chain.payTo.address,
    maxTimeoutSeconds: 60,
    extra: { ...chain.eip712 },
  }
})
afterAll(async () => {
  await chain?.stop()
})

const pay = (buyer = chain.buyers[0]!, reqs = requirements, now?: number) =>
  createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements: reqs, ...(now ? { now } : {}) })

describe('createFacilitator', () => {
  it('lists what it supports', async () => {
    const supported = await facilitator.supported()
    expect(supported.kinds).toContainEqual({ x402Version: 2, scheme: 'exact', network: 'eip155:31337' })
    expect(supported.signers['eip155:*']).toEqual([chain.facilitator.address])
  })

  it('verifies and settles a payment on chain, then refuses its replay', async () => {
    const buyer = chain.buyers[0]!
    const before = await chain.balanceOf(chain.payTo.address)
    const payment = pay(buyer)
    expect(await facilitator.verify(payment, requirements)).toEqual({ isValid: true, payer: buyer.address })
    const settled = await facilitator.settle(payment, requirements)
    expect(settled).toMatchObject({ success: true, network: 'eip155:31337', payer: buyer.address })
    expect(settled.transaction).toMatch(/^0x[0-9a-f]{64}$/)
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before + 10000n)

    const replay = await facilitator.settle(payment, requirements)
    expect(replay).toMatchObject({
      success: false,
      errorReason: 'invalid_exact_evm_nonce_already_used',
      transaction: '',
    })
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before + 10000n)
  })

  it('settles 32 concurrent payments from one gas wallet with no failures', async () => {
    const before = await chain.balanceOf(chain.payTo.address)
    const payments = Array.from({ length: 32 }, (_, i) => pay(chain.buyers[i % 3]!))
    const results = await Promise.all(payments.map((p) => facilitator.settle(p, requirements)))
    expect(results.filter((r) => !r.success)).toEqual([])
    expect(new Set(results.map((r) => r.transaction)).size).toBe(32)
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before + 32n * 10000n)
  })

  it('settles the same authorization once when it is sent 20 times at once', async () => {
    const before = await chain.balanceOf(chain.payTo.address)
    const payment = pay()
    const results = await Promise.all(Array.from({ length: 20 }, () => facilitator.settle(payment, requirements)))
    expect(results.filter((r) => r.success)).toHaveLength(1)
    for (const r of results.filter((r) => !r.success)) {
      expect(['payment_in_flight', 'invalid_exact_evm_nonce_already_used']).toContain(r.errorReason)
    }
    expect(await chain.balanceOf(chain.payTo.address)).toBe(before + 10000n)
  })

  it('simulates again when an authorization is settled a second time, even if verified while the first was in flight', async () => {
    const payment = pay()
    const rpc = (method: string, params: unknown[] = []) =>
      chain.publicClient.request({ method: method as never, params: params as never })
    expect((await facilitator.verify(payment, requirements)).isValid).toBe(true)
    await rpc('evm_setAutomine', [false])
    let first: Awaited<ReturnType<Facilitator['settle']>>
    try {
      const settling = facilitator.settle(payment, requirements)
      // Wait until the first settlement's transaction is in the mempool, not yet mined.
      for (let i = 0; i < 200; i++) {
        const pending = (await rpc('eth_getBlockByNumber', ['pending', false])) as { transactions: string[] }
        if (pending.transactions.length > 0) break
        await new Promise((r) => setTimeout(r, 10))
      }
      // A duplicate verified now still simulates fine: the transfer is not on chain yet.
      expect((await facilitator.verify(payment, requirements)).isValid).toBe(true)
      await rpc('evm_mine')
      first = await settling
    } finally {
      await rpc('evm_setAutomine', [true])
    }
    expect(first.success).toBe(true)
    const before = await chain.publicClient.getTransactionCount({ address: chain.facilitator.address as `0x${string}` })
    expect(await facilitator.settle(payment, requirements)).toMatchObject({
      success: false,
      errorReason: 'invalid_exact_evm_nonce_already_used',
      transaction: '',
    })
    // Refused before sending: the gas wallet sent nothing.
    expect(await chain.publicClient.getTransactionCount({ address: chain.facilitator.address as `0x${string}` })).toBe(
      before,
    )
  })

  it('reconciles from proof of transfer: a nonce the payer canceled is not a payment', async () => {
    const buyer = chain.buyers[2]!
    const settledPayment = pay(buyer)
    const settled = await facilitator.settle(settledPayment, requirements)
    expect(await facilitator.reconcile({ paymentPayload: settledPayment, paymentRequirements: requirements })).toEqual({
      state: 'settled',
      transaction: settled.transaction,
    })

    const payment = pay(buyer)
    const nonce = (payment.payload as { authorization: { nonce: `0x${string}` } }).authorization.nonce
    const account = privateKeyToAccount(buyer.privateKey)
    const signature = await account.signTypedData({
      domain: { ...chain.eip712, chainId: 31337, verifyingContract: chain.usdc },
      types: {
        CancelAuthorization: [
          { name: 'authorizer', type: 'address' },
          { name: 'nonce', type: 'bytes32' },
        ],
      },
      primaryType: 'CancelAuthorization',
      message: { authorizer: buyer.address, nonce },
    })
    const { v, r, s } = parseSignature(signature)
    const wallet = createWalletClient({ account, chain: foundry, transport: http(chain.rpcUrl) })
    const hash = await wallet.writeContract({
      address: chain.usdc,
      abi: fiatTokenAbi,
      functionName: 'cancelAuthorization',
      args: [buyer.address, nonce, Number(v), r, s],
    })
    expect((await chain.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 })).status).toBe('success')
    // authorizationState now says "used", but no USDC moved: not settled.
    expect(await facilitator.reconcile({ paymentPayload: payment, paymentRequirements: requirements })).toEqual({
      state: 'failed',
      reason: 'the payer canceled the authorization',
    })
  })

  it('explains each refusal with its reason code', async () => {
    const buyer = chain.buyers[1]!
    const reason = async (payload: unknown, reqs = requirements) =>
      (await facilitator.verify(payload as never, reqs)).invalidReason

    const wrongAmount = pay(buyer, { ...requirements, amount: '20000' })
    expect(await reason(wrongAmount)).toBe('payment_requirements_mismatch')

    const p = pay(buyer)
    const auth = (p.payload as { authorization: Record<string, string> }).authorization
    const tampered = { ...p, payload: { ...p.payload, authorization: { ...auth, value: '1' } } }
    expect(await reason(tampered)).toBe('invalid_exact_evm_signature')

    const expired = pay(buyer, requirements, Math.floor(Date.now() / 1000) - 120)
    expect(await reason(expired)).toBe('invalid_exact_evm_payload_authorization_valid_before')

    const poor = await chain.newBuyer(5000n)
    expect(await reason(pay(poor))).toBe('insufficient_funds')

    const wrongDomain = { ...requirements, extra: { name: 'USDC', version: '2' } }
    expect(await reason(pay(buyer, wrongDomain), wrongDomain)).toBe('invalid_exact_evm_eip712_domain_mismatch')

    const otherNetwork = { ...requirements, network: 'eip155:8453' }
    expect(await reason(pay(buyer, otherNetwork), otherNetwork)).toBe('invalid_network')

    const notDeployed = { ...requirements, asset: '0x000000000000000000000000000000000000dEaD' }
    expect(await reason(pay(buyer, notDeployed), notDeployed)).toBe('invalid_exact_evm_asset_not_deployed')
  })

  it('refuses a validAfter the chain has not reached yet as valid_after, not as a failed simulation', async () => {
    const buyer = chain.buyers[2]!
    const block = await chain.publicClient.getBlock()
    // Just past the last block, and not in the future by the wall clock.
    const validAfter = Number(block.timestamp) + 1
    while (Date.now() / 1000 < validAfter) await new Promise((resolve) => setTimeout(resolve, 50))
    const early = createPayment({
      privateKey: buyer.privateKey,
      from: buyer.address,
      requirements,
      now: validAfter + 600,
      validAfterSkew: 600,
    })
    expect((early.payload as { authorization: { validAfter: string } }).authorization.validAfter).toBe(
      String(validAfter),
    )
    const result = await facilitator.verify(early, requirements)
    expect(result).toMatchObject({
      isValid: false,
      invalidReason: 'invalid_exact_evm_payload_authorization_valid_after',
    })
    expect(result.invalidMessage).toMatch(/latest block/)
  })

  it('fails closed when the chain is down', async () => {
    const dead = createFacilitator({
      chains: [{ network: chain.network, rpcUrl: 'http://127.0.0.1:9' }],
      privateKeys: [chain.facilitator.privateKey],
    })
    await expect(dead.verify(pay(), requirements)).rejects.toMatchObject({ code: 'chain_unavailable', retryable: true })
  })
})
