import { z } from 'zod'

/**
 * The x402 `bazaar` discovery extension of a paid tool (coinbase/x402
 * `specs/extensions/bazaar.md`, "MCP Tools"): `input.type: 'mcp'`, the tool's name and the JSON
 * Schema of its arguments. It replaces the HTTP one the paywall describes its routes with.
 */
export function mcpBazaar(tool: string, description: string | undefined, inputSchema: unknown) {
  return {
    info: {
      input: {
        type: 'mcp',
        tool,
        ...(description ? { description } : {}),
        inputSchema: jsonSchemaOf(inputSchema),
      },
    },
    schema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: {
        input: {
          type: 'object',
          properties: {
            type: { type: 'string', const: 'mcp' },
            tool: { type: 'string' },
            description: { type: 'string' },
            transport: { type: 'string', enum: ['streamable-http', 'sse'] },
            inputSchema: { type: 'object' },
            example: { type: 'object' },
          },
          required: ['type', 'tool', 'inputSchema'],
          additionalProperties: false,
        },
      },
      required: ['input'],
    },
  }
}

/**
 * The JSON Schema of a tool's zod arguments (a zod 4 object, or a shape of zod 4 schemas); a
 * schema it cannot convert (zod 3) is described as any object, as MCP lists a tool without one.
 */
function jsonSchemaOf(input: unknown): Record<string, unknown> {
  if (input === undefined) return { type: 'object', properties: {} }
  try {
    const isSchema = typeof input === 'object' && input !== null && '_zod' in input
    const schema = isSchema ? (input as z.ZodType) : z.object(input as Record<string, z.ZodType>)
    const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>
    delete json.$schema
    return json
  } catch {
    return { type: 'object' }
  }
}
