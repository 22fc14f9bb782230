import { X402Error } from '@402x/core'
import type { AnyResponse } from './types.js'

/**
 * The default token count of a `pricePerToken` route, when the seller gives no
 * `countTokens`. It fails closed: what it cannot count is an error (the answer is not
 * served, or the stream ends there), never 0.
 *
 * - A count the answer gives wins: `tokens`, else `usage.completion_tokens` (OpenAI) or
 *   `usage.output_tokens` (Anthropic; also under `message.usage` in `message_start`).
 * - Else an estimate from its text: 4 UTF-8 bytes a token, rounded up. Bytes, not code
 *   points: a CJK character is about one token, so code points / 4 would undercount it
 *   fourfold; 3 bytes / 4 is closer, and never less for any script.
 */

/** The count an answer or event states itself, when it states one. */
export function statedTokens(body: AnyResponse): number | undefined {
  if (!body || typeof body !== 'object') return undefined
  if (typeof body.tokens === 'number') return body.tokens
  const usage = body.usage ?? body.message?.usage
  if (typeof usage?.completion_tokens === 'number') return usage.completion_tokens
  if (typeof usage?.output_tokens === 'number') return usage.output_tokens
  return undefined
}

/** Tokens estimated from text: 4 UTF-8 bytes a token, rounded up. */
export function estimateTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 4)
}

/** A string, or an array of text parts (`[{ type: 'text', text }]`, or strings). */
function partsText(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (!Array.isArray(value)) return undefined
  let out: string | undefined
  for (const part of value) {
    const text = typeof part === 'string' ? part : typeof part?.text === 'string' ? part.text : undefined
    if (text !== undefined) out = (out ?? '') + text
  }
  return out
}

/**
 * The generated text of a known shape, `undefined` when it has none of them: OpenAI chat
 * (`choices[].delta.content`, `.message.content`, tool-call arguments, `choices[].text`),
 * Anthropic (`delta.text`, `delta.partial_json`, `delta.thinking`, `content` parts),
 * OpenAI Responses (`delta` as a string), Gemini (`candidates[].content.parts[].text`),
 * and a plain `text` or `content`.
 */
export function textOf(body: AnyResponse): string | undefined {
  if (typeof body === 'string') return body
  if (!body || typeof body !== 'object') return undefined
  const found: string[] = []
  const add = (value: unknown) => {
    const text = partsText(value)
    if (text !== undefined) found.push(text)
  }
  if (Array.isArray(body.choices)) {
    for (const choice of body.choices) {
      for (const at of [choice?.delta, choice?.message]) {
        if (!at || typeof at !== 'object') continue
        add(at.content)
        add(at.reasoning_content)
        if (Array.isArray(at.tool_calls)) for (const call of at.tool_calls) add(call?.function?.arguments)
      }
      add(choice?.text)
    }
  }
  if (typeof body.delta === 'string') add(body.delta)
  else if (body.delta && typeof body.delta === 'object') {
    add(body.delta.text)
    add(body.delta.partial_json)
    add(body.delta.thinking)
  }
  if (Array.isArray(body.candidates)) for (const c of body.candidates) add(c?.content?.parts)
  add(body.text)
  add(body.content)
  add(body.content_block?.text)
  return found.length > 0 ? found.join('') : undefined
}

/** Keys whose strings describe an event rather than carry generated text. */
const metadataKeys = new Set([
  'id',
  'object',
  'model',
  'type',
  'role',
  'name',
  'finish_reason',
  'stop_reason',
  'stop_sequence',
  'system_fingerprint',
  'service_tier',
  'event',
  'status',
  'created',
])

/** Whether a value holds a non-empty string outside the metadata keys: text it cannot count. */
function hasText(value: unknown, key?: string): boolean {
  if (key !== undefined && metadataKeys.has(key)) return false
  if (typeof value === 'string') return value.length > 0
  if (Array.isArray(value)) return value.some((v) => hasText(v))
  if (value && typeof value === 'object') return Object.entries(value).some(([k, v]) => hasText(v, k))
  return false
}

/** The default count of a buffered answer (its parsed JSON body). */
export function defaultTokens(body: AnyResponse): number {
  const stated = statedTokens(body)
  if (stated !== undefined) return stated
  const text = textOf(body)
  if (text !== undefined) return estimateTokens(text)
  throw new X402Error('internal_error', {
    message:
      'pricePerToken: the response has no `tokens`, `usage` or text the default count knows: add countTokens: (response) => …',
  })
}

/**
 * The default count of one SSE event: `{ total }` when it states the stream's tokens so far
 * (a `usage`, which replaces the estimate), else the estimate of its text. An event with
 * nothing to count (`[DONE]`, a role-only delta, a keep-alive) is 0; one with text of an
 * unknown shape, or data that is not JSON, throws.
 */
export function defaultEventTokens(event: AnyResponse, data: string): number | { total: number } {
  if (data === '' || data === '[DONE]') return 0
  if (typeof event === 'string' && event === data) {
    throw new Error(`an event's data is not JSON (${preview(data)}): give countTokens: (event) => …`)
  }
  const text = textOf(event)
  const stated = statedTokens(event)
  if (stated !== undefined) {
    // `tokens` counts this event; a `usage` counts the stream so far (OpenAI's final usage
    // chunk, Anthropic's cumulative `output_tokens`).
    return typeof event.tokens === 'number' ? stated : { total: stated }
  }
  if (text !== undefined) return estimateTokens(text)
  if (hasText(event)) {
    throw new Error(`an event of a shape the default count does not know (${preview(data)}): give countTokens`)
  }
  return 0
}

const preview = (data: string) => (data.length > 60 ? `${data.slice(0, 60)}…` : data)
