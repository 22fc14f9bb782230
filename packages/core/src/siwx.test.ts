import {
  createSIWxPayload,
  encodeSIWxHeader,
  formatSIWEMessage,
  validateSIWxMessage,
  verifySIWxSignature,
} from '@x402/extensions/sign-in-with-x'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, it } from 'vitest'
import { encodeHeader } from './codec.js'
import { createSiwxExtension, formatSiweMessage, signSiwx, verifySiwx } from './siwx.js'

// Anvil's first well-known key: a test key, never a real wallet.
const key = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
const account = privateKeyToAccount(key)
const url = 'https://api.example.com/api/report'
const networks = ['eip155:8453']

describe('sign-in-with-x', () => {
  it('formats the EIP-4361 message exactly as the official extension does', () => {
    const { info } = createSiwxExtension({ url, networks, statement: 'Sign in to use the free tier' })
    const complete = { ...info, chainId: 'eip155:8453', type: 'eip191' as const }
    expect(formatSiweMessage(complete, account.address)).toBe(formatSIWEMessage(complete, account.address))
    const { statement: _, ...bare } = complete
    expect(formatSiweMessage(bare, account.address)).toBe(formatSIWEMessage(bare, account.address))
  })

  it('accepts a proof signed by the official client, and names its address', async () => {
    const extension = createSiwxExtension({ url, networks })
    const chain = extension.supportedChains[0]!
    const payload = await createSIWxPayload({ ...extension.info, chainId: chain.chainId, type: 'eip191' }, account, url)
    const check = verifySiwx(encodeSIWxHeader(payload), { url, networks })
    expect(check).toMatchObject({ ok: true, address: account.address.toLowerCase() })
  })

  it('signs proofs that the official verifier accepts', async () => {
    const extension = createSiwxExtension({ url, networks })
    const payload = signSiwx({
      info: extension.info,
      chainId: 'eip155:8453',
      privateKey: key,
      address: account.address,
    })
    expect(await validateSIWxMessage(payload, new URL(url))).toEqual({ isValid: true })
    expect(await verifySIWxSignature(payload)).toMatchObject({ isValid: true, payer: account.address })
  })

  it.each([
    ['another origin', { url: 'https://evil.example.com/api/report' }, 'invalid_siwx_domain_mismatch'],
    ['a chain not accepted', { networks: ['eip155:84532'] }, 'invalid_siwx_unsupported_chain'],
    ['too old', { now: Date.now() + 10 * 60_000 }, 'invalid_siwx_issued_at_too_old'],
  ])('refuses a proof for %s', (_name, override, reason) => {
    const extension = createSiwxExtension({ url, networks })
    const payload = signSiwx({
      info: extension.info,
      chainId: 'eip155:8453',
      privateKey: key,
      address: account.address,
    })
    expect(verifySiwx(encodeHeader(payload), { url, networks, ...override })).toMatchObject({ ok: false, reason })
  })

  it('refuses a proof whose address is not the signer', () => {
    const extension = createSiwxExtension({ url, networks })
    const other = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d')
    const payload = signSiwx({ info: extension.info, chainId: 'eip155:8453', privateKey: key, address: other.address })
    expect(verifySiwx(encodeHeader(payload), { url, networks })).toMatchObject({
      ok: false,
      reason: 'invalid_siwx_signature',
    })
    expect(verifySiwx('not base64!', { url, networks })).toMatchObject({ ok: false, reason: 'invalid_siwx_payload' })
  })
})
