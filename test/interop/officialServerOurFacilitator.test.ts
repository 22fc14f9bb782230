/**
 * The official `@x402/express` server settles through OUR facilitator over HTTP
 * (`HTTPFacilitatorClient` → `createFacilitatorServer`), paid by our client and by theirs.
 */
import { createPayment } from '@402x/core'
import { decodePaymentRequiredHeader, encodePaymentSignatureHeader } from '@x402/core/http'
import type { PaymentRequirements } from '@x402/core/types'
import { decodePaymentResponseHeader } from '@x402/fetch'
import { createX402Client, X402HttpError } from '402x-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, type Stack, startStack } from '../helpers/stack.js'
import {
  type OfficialServer,
  officialFacilitatorClient,
  officialPayingFetch,
  paymentRequiredError,
  startOfficialServer,
} from './official.js'

let stack: Stack
let official: OfficialServer | undefined

beforeAll(async () => {
  stack = await startStack()
  official = await startOfficialServer({
    chain: stack.chain,
    facilitator: officialFacilitatorClient(stack.facilitatorUrl),
  })
})

afterAll(async () => {
  await close(official?.server)
  await stack?.stop()
})

const buyer = (i: number) => stack.chain.buyers[i] as NonNullable<Stack['chain']['buyers'][number]>
const balance = (address: `0x${string}`) => stack.chain.balanceOf(address)
const paidUrl = () => `${(official as OfficialServer).url}/paid`

/** Asserts a settlement transaction was sent by our facilitator's gas wallet and succeeded. */
async function expectSentByOurFacilitator(hash: string) {
  expect(hash).toMatch(/^0x[0-9a-f]{64}$/)
  const tx = await stack.chain.publicClient.getTransaction({ hash: hash as `0x${string}` })
  expect(tx.from.toLowerCase()).toBe(stack.chain.facilitator.address.toLowerCase())
  expect(tx.to?.toLowerCase()).toBe(stack.chain.usdc.toLowerCase())
  const receipt = await stack.chain.publicClient.getTransactionReceipt({ hash: hash as `0x${string}` })
  expect(receipt.status).toBe('success')
}

/** The official server's requirements for `GET /paid`, read from its 402. */
async function officialRequirements() {
  const res = await fetch(paidUrl())
  expect(res.status).toBe(402)
  return decodePaymentRequiredHeader(res.headers.get('payment-required') as string)
}

describe('official @x402/express → our facilitator over HTTP', () => {
  it('our /supported satisfies the official HTTPFacilitatorClient', async () => {
    const supported = await officialFacilitatorClient(stack.facilitatorUrl).getSupported()
    expect(supported.kinds).toContainEqual({ x402Version: 2, scheme: 'exact', network: 'eip155:31337' })
    expect(supported.signers['eip155:*']).toContain(stack.chain.facilitator.address)
  })

  it('settles our client’s payment on chain from our gas wallet', async () => {
    const payer = buyer(0)
    const payToBefore = await balance(stack.chain.payTo.address)
    const payerBefore = await balance(payer.address)
    const c = createX402Client({
      wallet: payer.privateKey,
      allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
    })

    const res = await c.get<{ ok: boolean; data: string }>(paidUrl())

    expect(res.status).toBe(200)
    expect(res.data).toEqual({ ok: true, data: 'secret' })
    const settle = decodePaymentResponseHeader(res.headers.get('payment-response') as string)
    expect(settle).toMatchObject({ success: true, network: 'eip155:31337', payer: payer.address, amount: '10000' })
    expect(res.receipt).toMatchObject({ status: 'settled', amount: 10000n, transaction: settle.transaction })
    expect(await balance(stack.chain.payTo.address)).toBe(payToBefore + 10000n)
    expect(await balance(payer.address)).toBe(payerBefore - 10000n)
    await expectSentByOurFacilitator(settle.transaction)
  })

  it('settles the official client’s payment on chain from our gas wallet', async () => {
    const payer = buyer(1)
    const payToBefore = await balance(stack.chain.payTo.address)
    const payerBefore = await balance(payer.address)
    const pay = officialPayingFetch({ chain: stack.chain, privateKey: payer.privateKey })

    const res = await pay(`${(official as OfficialServer).url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n: 1 }),
    })

    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ echo: { n: 1 } })
    const settle = decodePaymentResponseHeader(res.headers.get('payment-response') as string)
    expect(settle).toMatchObject({ success: true, network: 'eip155:31337', payer: payer.address })
    expect(await balance(stack.chain.payTo.address)).toBe(payToBefore + 10000n)
    expect(await balance(payer.address)).toBe(payerBefore - 10000n)
    await expectSentByOurFacilitator(settle.transaction)
  })

  it('our /verify refusal (insufficient_funds) is the error of the official 402', async () => {
    const broke = await stack.chain.newBuyer(0n)
    const payToBefore = await balance(stack.chain.payTo.address)
    const c = createX402Client({
      wallet: broke.privateKey,
      allowedAssets: [{ network: stack.chain.network, asset: stack.chain.usdc }],
    })

    const error = await c.get(paidUrl()).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(X402HttpError)
    const response = (error as X402HttpError).response
    expect(response.status).toBe(402)
    expect(response.headers.get('payment-response')).toBeNull()
    // `insufficient_funds` is our facilitator's reason; the official one says `…simulation_failed`.
    expect(paymentRequiredError(response.headers)).toBe('insufficient_funds')
    // The reference answers `{}`: our client's message must still name the reason.
    expect((error as X402HttpError).message).toBe('HTTP 402: insufficient_funds')
    expect(c.spent()).toBe(0n)
    expect(await balance(stack.chain.payTo.address)).toBe(payToBefore)
  })

  it('our /verify refusal of a signature paying someone else reaches the official 402', async () => {
    const payer = buyer(2)
    const payerBefore = await balance(payer.address)
    const required = await officialRequirements()
    const accepted = required.accepts[0] as PaymentRequirements
    // Signed to a stranger, but claiming the offered requirements: only the facilitator can tell.
    const payment = createPayment({
      privateKey: payer.privateKey,
      from: payer.address,
      requirements: { ...accepted, payTo: stack.chain.owner.address },
      resource: { ...required.resource },
    })
    const header = encodePaymentSignatureHeader({ ...payment, accepted } as never)

    const res = await fetch(paidUrl(), { headers: { 'PAYMENT-SIGNATURE': header } })

    expect(res.status).toBe(402)
    expect(paymentRequiredError(res.headers)).toBe('invalid_exact_evm_recipient_mismatch')
    expect(await balance(payer.address)).toBe(payerBefore)
    expect(await balance(stack.chain.owner.address)).toBe(0n)
  })

  it('serves one signed payment once when it is sent 5 times at once, and charges once', async () => {
    const payer = buyer(3)
    const payerBefore = await balance(payer.address)
    const required = await officialRequirements()
    const payment = createPayment({
      privateKey: payer.privateKey,
      from: payer.address,
      requirements: required.accepts[0] as PaymentRequirements,
      resource: { ...required.resource },
    })
    const header = encodePaymentSignatureHeader(payment as never)

    const responses = await Promise.all(
      Array.from({ length: 5 }, () => fetch(paidUrl(), { headers: { 'PAYMENT-SIGNATURE': header } })),
    )

    const statuses = responses.map((r) => r.status)
    expect(statuses.filter((s) => s === 200)).toHaveLength(1)
    expect(statuses.filter((s) => s === 402)).toHaveLength(4)
    const served = responses.find((r) => r.status === 200) as Response
    const settle = decodePaymentResponseHeader(served.headers.get('payment-response') as string)
    expect(settle.success).toBe(true)
    await expectSentByOurFacilitator(settle.transaction)
    for (const refused of responses.filter((r) => r.status === 402)) {
      // Refused at verify (already used) or at settle (in flight, or used by then).
      const failedSettle = refused.headers.get('payment-response')
      const reason = failedSettle
        ? decodePaymentResponseHeader(failedSettle).errorReason
        : paymentRequiredError(refused.headers)
      expect(['payment_in_flight', 'invalid_exact_evm_nonce_already_used']).toContain(reason)
    }
    expect(await balance(payer.address)).toBe(payerBefore - 10000n)
  })
})
