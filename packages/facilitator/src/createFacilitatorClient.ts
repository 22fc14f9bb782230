import {
  checkOptions,
  SettleResponseSchema,
  SupportedResponseSchema,
  safeParseJson,
  VerifyResponseSchema,
  X402Error,
} from '@402x/core'
import { z } from 'zod'
import { createHttpJson, type HttpJsonAnswer } from './httpJson.js'
import { facilitatorClientRules } from './optionRules.js'
import type { FacilitatorLike, SettlementStatus } from './types.js'

export type FacilitatorClientOptions = {
  /** Base URL of the facilitator, e.g. `https://x402.org/facilitator`. */
  url: string
  /** Sent as `Authorization: Bearer …`. */
  apiKey?: string
  /** Per-call timeout; longer than a facilitator's receipt wait (30 s), so a slow settlement is not abandoned halfway. @default 60000 */
  timeoutMs?: number
}

const StatusSchema = z.union([
  z.object({ state: z.literal('settled'), transaction: z.string() }),
  z.object({ state: z.literal('failed'), reason: z.string() }),
  z.object({ state: z.literal('pending'), transaction: z.string().optional() }),
])

/**
 * A client for any x402 facilitator over HTTP. An unreachable facilitator, a 5xx or a
 * malformed answer is a `facilitator_unavailable` fault (retryable); a 503 whose body says
 * `chain_unavailable` (the facilitator cannot reach its chain) is a `chain_unavailable` fault.
 *
 * @example
 * const facilitator = createFacilitatorClient({ url: 'http://127.0.0.1:4020' })
 * await facilitator.supported()
 */
export function createFacilitatorClient(options: FacilitatorClientOptions): FacilitatorLike {
  checkOptions(options, facilitatorClientRules, 'createFacilitatorClient()')
  const base = options.url.replace(/\/+$/, '')
  const http = createHttpJson(base, {
    timeoutMs: options.timeoutMs ?? 60_000,
    headers: {
      'content-type': 'application/json',
      ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
    },
  })
  const call = async <T extends z.ZodType>(method: string, path: string, schema: T, body?: unknown) => {
    let response: HttpJsonAnswer
    try {
      response = await http(method, path, body === undefined ? undefined : JSON.stringify(body))
    } catch (cause) {
      throw new X402Error('facilitator_unavailable', {
        message: `the facilitator at ${base} cannot be reached: ${(cause as Error).message}`,
        cause,
      })
    }
    const { text, status } = response
    const ok = status >= 200 && status < 300
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    // The answers every paid request reads are checked by hand when they surely pass.
    const parsed = safeParseJson(schema, json, text)
    if (ok && parsed.success) return parsed.data as z.infer<T>
    // A refusal may come with a 4xx but still be well-formed: take it as the answer.
    if (status < 500 && parsed.success) return parsed.data as z.infer<T>
    // The facilitator is up but its chain is not (a 503 `chain_unavailable`, as
    // createFacilitatorServer answers): say so, and not that the facilitator is down.
    const fault = (json as { error?: unknown } | undefined)?.error
    if (status >= 500 && fault === 'chain_unavailable') {
      const said = (json as { message?: unknown }).message
      throw new X402Error('chain_unavailable', {
        message: `the facilitator at ${base} cannot reach its chain${typeof said === 'string' ? `: ${said}` : ''}`,
        details: { status, facilitator: base },
      })
    }
    throw new X402Error(status >= 500 || ok ? 'facilitator_unavailable' : 'invalid_request', {
      message: `the facilitator at ${base} answered ${method} ${path} with HTTP ${status}: ${text.slice(0, 300)}`,
      details: { status },
    })
  }
  return {
    supported: () => call('GET', '/supported', SupportedResponseSchema),
    verify: (paymentPayload, paymentRequirements) =>
      call('POST', '/verify', VerifyResponseSchema, {
        x402Version: paymentPayload.x402Version,
        paymentPayload,
        paymentRequirements,
      }),
    settle: (paymentPayload, paymentRequirements) =>
      call('POST', '/settle', SettleResponseSchema, {
        x402Version: paymentPayload.x402Version,
        paymentPayload,
        paymentRequirements,
      }),
    reconcile: (request) =>
      call('POST', '/reconcile', StatusSchema, {
        x402Version: request.paymentPayload.x402Version,
        ...request,
      }) as Promise<SettlementStatus>,
  }
}
