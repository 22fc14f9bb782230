import { X402Error } from '@402x/core'
import { describe, expect, it } from 'vitest'
import { PaymentRequiredError } from './paymentRequiredError.js'

const accepts = [
  {
    scheme: 'exact',
    network: 'eip155:31337',
    amount: '10000',
    asset: '0x8464135c8F25Da09e49BC8782676a84730C318bC',
    payTo: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
    maxTimeoutSeconds: 300,
    extra: {},
  },
]

describe('PaymentRequiredError', () => {
  it('is an X402Error with the code Express error handlers test for', () => {
    const error = new PaymentRequiredError({ price: '0.01', accepts, response: new Response(null, { status: 402 }) })
    expect(error).toBeInstanceOf(X402Error)
    expect(error).toMatchObject({
      name: 'PaymentRequiredError',
      code: 'PAYMENT_REQUIRED',
      status: 402,
      statusCode: 402,
      price: '0.01',
      amount: '10000',
      address: accepts[0]?.payTo,
      network: 'eip155:31337',
      retryable: false,
    })
    expect(error.message).toBe('payment required: $0.01')
    expect(error.reason).toBeUndefined()
  })

  it('carries the refusal of a payment that was sent', () => {
    const error = new PaymentRequiredError({
      price: '0.01',
      accepts,
      response: new Response(null, { status: 402 }),
      error: { reason: 'invalid_exact_evm_signature', message: 'the signature is not the payer’s' },
    })
    expect(error.reason).toBe('invalid_exact_evm_signature')
    expect(error.details).toEqual({ price: '0.01', reason: 'invalid_exact_evm_signature' })
    expect(error.message).toBe('payment refused: the signature is not the payer’s')
  })
})
