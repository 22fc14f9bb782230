import type { z } from 'zod'
import { AdminInputError } from './adminHttp.js'

/**
 * A JSON body checked by `schema`, or a 400 whose message names the first bad field and
 * shows a body that works.
 *
 * @example
 * const input = parsedBody(GrantSchema, await request.body(), '{ "amount": "5", "reason": "bonus" }')
 */
export function parsedBody<T>(schema: z.ZodType<T>, body: unknown, example: string): T {
  const result = schema.safeParse(body)
  if (result.success) return result.data
  const issue = result.error.issues[0]
  const field = issue?.code === 'unrecognized_keys' ? String(issue.keys[0]) : issue?.path.join('.') || 'the body'
  throw new AdminInputError(`${field}: ${issue?.message ?? 'invalid'}; send e.g. ${example}`)
}
