import { hashTypedData, recoverTypedDataAddress } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, it } from 'vitest'
import { registerNetwork } from '../networks.js'
import type { ExactEvmPayload, PaymentRequirements } from '../types.js'
import { createPayment } from './createPayment.js'
import { secpBackend } from './secp.js'
import { transferDigest } from './typedData.js'
import { verifyAuthorization } from './verifyAuthorization.js'

const key = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
const account = privateKeyToAccount(key)
const requirements: PaymentRequirements = {
  scheme: 'exact',
  network: 'eip155:8453',
  amount: '10000',
  asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
  payTo: '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
  maxTimeoutSeconds: 60,
  extra: { name: 'USD Coin', version: '2' },
}
const sign = (reqs = requirements, now?: number) =>
  createPayment({ privateKey: key, from: account.address, requirements: reqs, ...(now ? { now } : {}) })
    .payload as ExactEvmPayload
const types = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
} as const

describe('EIP-3009 signing and verification', () => {
  it('uses native libsecp256k1', () => {
    expect(secpBackend).toBe('native')
  })

  it('computes the same EIP-712 digest as viem and signs what viem recovers', async () => {
    const { authorization: a, signature } = sign()
    const domain = {
      name: 'USD Coin',
      version: '2',
      chainId: 8453,
      verifyingContract: requirements.asset as `0x${string}`,
    }
    const message = {
      from: a.from as `0x${string}`,
      to: a.to as `0x${string}`,
      value: BigInt(a.value),
      validAfter: BigInt(a.validAfter),
      validBefore: BigInt(a.validBefore),
      nonce: a.nonce as `0x${string}`,
    }
    const viemDigest = hashTypedData({ domain, types, primaryType: 'TransferWithAuthorization', message })
    expect(`0x${Buffer.from(transferDigest(domain, a)).toString('hex')}`).toBe(viemDigest)
    const recovered = await recoverTypedDataAddress({
      domain,
      types,
      primaryType: 'TransferWithAuthorization',
      message,
      signature: signature as `0x${string}`,
    })
    expect(recovered).toBe(account.address)
  })

  it('accepts a good payment', async () => {
    expect(await verifyAuthorization({ payload: sign(), requirements })).toEqual({
      isValid: true,
      payer: account.address,
    })
  })

  it('refuses each bad input with its reason, in order', async () => {
    const now = Math.floor(Date.now() / 1000)
    const good = sign()
    const reason = async (payload: ExactEvmPayload, reqs: PaymentRequirements = requirements, at = now) => {
      const check = await verifyAuthorization({ payload, requirements: reqs, now: at })
      return check.isValid ? 'valid' : check.reason
    }
    expect(await reason(good, { ...requirements, scheme: 'upto' })).toBe('invalid_scheme')
    expect(await reason(good, { ...requirements, network: 'eip155:1' })).toBe('invalid_network')
    expect(await reason(good, { ...requirements, extra: {} })).toBe('invalid_exact_evm_payload_missing_eip712_domain')
    const tampered = { ...good, authorization: { ...good.authorization, value: '1' } }
    expect(await reason(tampered)).toBe('invalid_exact_evm_signature')
    const otherDomain = { ...requirements, extra: { name: 'USDC', version: '2' } }
    expect(await reason(good, otherDomain)).toBe('invalid_exact_evm_signature')
    const highS = (() => {
      const sig = Buffer.from(good.signature.slice(2), 'hex')
      const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
      const s = BigInt(`0x${sig.subarray(32, 64).toString('hex')}`)
      sig.set(Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex'), 32)
      sig[64] = sig[64] === 27 ? 28 : 27
      return { ...good, signature: `0x${sig.toString('hex')}` }
    })()
    expect(await reason(highS)).toBe('invalid_exact_evm_signature')
    expect(await reason({ ...good, signature: '0x1234' })).toBe('invalid_exact_evm_signature')
    const otherPayTo = { ...requirements, payTo: '0x0000000000000000000000000000000000000001' }
    expect(await reason(sign(otherPayTo), requirements)).toBe('invalid_exact_evm_recipient_mismatch')
    expect(await reason(good, requirements, now - 3600)).toBe('valid')
    const future = createPayment({
      privateKey: key,
      from: account.address,
      requirements,
      now: now + 1000,
      validAfterSkew: -500,
    })
    expect(await reason(future.payload as ExactEvmPayload)).toBe('invalid_exact_evm_payload_authorization_valid_after')
    expect(await reason(sign(requirements, now - 55))).toBe('invalid_exact_evm_payload_authorization_valid_before')
    expect(await reason(sign(requirements, now - 120))).toBe('invalid_exact_evm_payload_authorization_valid_before')
    const cheap = { ...requirements, amount: '1' }
    expect(await reason(sign(cheap), requirements)).toBe('invalid_exact_evm_payload_authorization_value_mismatch')
  })

  it('asks about contract wallets only when the signature does not recover', async () => {
    const asked: string[] = []
    const good = sign()
    const yes = async (from: string) => {
      asked.push(from)
      return true
    }
    await verifyAuthorization({ payload: good, requirements, isValidContractSignature: yes })
    expect(asked).toEqual([])
    const check = await verifyAuthorization({
      payload: { ...good, signature: '0xabcd' },
      requirements,
      isValidContractSignature: yes,
    })
    expect(check.isValid).toBe(true)
    expect(asked).toEqual([account.address])
  })

  it('registers networks', () => {
    registerNetwork({ id: 'eip155:999999', chainId: 999999, name: 'Test', v1Name: 'test' })
    expect(sign({ ...requirements, network: 'eip155:999999' }).authorization.to).toBe(requirements.payTo)
  })
})
