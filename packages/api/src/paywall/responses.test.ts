import { X402Error } from '@402x/core'
import { describe, expect, it } from 'vitest'
import { invalidToken } from './credits.js'
import { errorResponse, faultResponse, handlerFailed } from './responses.js'

/** Every refusal that is not a 402 carries the code as `reason` (as a 402 does) and a message. */
async function expectRefusal(response: Response, status: number, reason: string) {
  expect(response.status).toBe(status)
  const body = (await response.json()) as Record<string, unknown>
  expect(body).toMatchObject({ reason, error: reason })
  expect(body.message).toEqual(expect.any(String))
}

describe('refusal bodies', () => {
  it('have one shape: reason, error and message', async () => {
    await expectRefusal(errorResponse(400, 'invalid_request', 'fix it'), 400, 'invalid_request')
    await expectRefusal(errorResponse(503, 'settlement_unknown', 'retry', 2), 503, 'settlement_unknown')
    await expectRefusal(
      faultResponse(new X402Error('store_unavailable', { message: 'down' })),
      503,
      'store_unavailable',
    )
    await expectRefusal(faultResponse(new Error('boom')), 503, 'internal_error')
    await expectRefusal(handlerFailed(), 500, 'internal_error')
    await expectRefusal(invalidToken(), 401, 'invalid_token')
  })
})
