// The pieces the admin API's OpenAPI document is written with (adminOpenApi.ts and the parts
// it merges: observeOpenApi.ts, webhookOpenApi.ts).

export type Schema = Record<string, unknown>

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` })
export const json = (schema: Schema) => ({ 'application/json': { schema } })
export const ok = (description: string, schema: Schema, status = '200') => ({
  [status]: { description, content: json(schema) },
})
/** The shared error responses (`components.responses.Error401` …) for these statuses. */
export const errors = (...statuses: string[]) =>
  Object.fromEntries(statuses.map((s) => [s, { $ref: `#/components/responses/Error${s}` }]))
export const object = (properties: Schema, required: string[] = []) => ({
  type: 'object',
  properties,
  ...(required.length ? { required } : {}),
})
export const time = { type: 'string', format: 'date-time' }

/** An operation maker for one tag, every operation answering these error statuses too. */
export const operation =
  (tag: string, ...errorStatuses: string[]) =>
  (operationId: string, summary: string, responses: Schema, extra: Schema = {}) => ({
    operationId,
    summary,
    tags: [tag],
    ...extra,
    responses: { ...responses, ...errors(...errorStatuses) },
  })
