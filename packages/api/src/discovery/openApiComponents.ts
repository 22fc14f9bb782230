/**
 * The x402 parts every priced operation refers to: the `PAYMENT-SIGNATURE` security scheme,
 * the `PAYMENT-REQUIRED` and `PAYMENT-RESPONSE` headers, the 402 and the objects they carry.
 * Names start with `X402` so they never collide with a seller's own components.
 */
import type { Json } from './sellerDocument.js'

export const ref = {
  paymentRequiredResponse: '#/components/responses/X402PaymentRequired',
  invalidPaymentResponse: '#/components/responses/X402InvalidPayment',
  unavailableResponse: '#/components/responses/X402Unavailable',
  paymentResponseHeader: '#/components/headers/X402PaymentResponse',
} as const

/** The security requirement of a paid operation: a v2 or a v1 payment header. */
export const paymentSecurity = [{ X402Payment: [] }, { X402PaymentV1: [] }]

const string = { type: 'string' }
const atomic = { type: 'string', pattern: '^[0-9]+$', description: 'Atomic units of the asset (USDC: 6 decimals)' }
const schema = (name: string) => ({ $ref: `#/components/schemas/${name}` })

/**
 * A header holding base64 JSON. OpenAPI 3.1 (JSON Schema 2020-12) says what the JSON is;
 * 3.0 can only say `format: byte` and name it in the description.
 */
function base64Json(name: string, version: '3.0' | '3.1') {
  return {
    type: 'string',
    format: 'byte',
    description: `base64 (standard alphabet, padded) of UTF-8 JSON: an x402 ${name.replace(/^X402/, '')} object`,
    ...(version === '3.1'
      ? { contentEncoding: 'base64', contentMediaType: 'application/json', contentSchema: schema(name) }
      : {}),
  }
}

export function x402Components(version: '3.0' | '3.1'): Json {
  return {
    securitySchemes: {
      X402Payment: {
        type: 'apiKey',
        in: 'header',
        name: 'PAYMENT-SIGNATURE',
        description:
          "An x402 v2 payment: base64 JSON of a PaymentPayload whose `accepted` is one entry of the 402's PAYMENT-REQUIRED `accepts`, signed with EIP-3009 (scheme `exact`). See https://x402.org.",
      },
      X402PaymentV1: {
        type: 'apiKey',
        in: 'header',
        name: 'X-PAYMENT',
        description: 'An x402 v1 payment (base64 JSON of a v1 PaymentPayload), also accepted.',
      },
    },
    headers: {
      X402PaymentRequired: {
        description: 'What to pay: an x402 v2 PaymentRequired object.',
        required: true,
        schema: base64Json('X402PaymentRequired', version),
      },
      X402PaymentResponse: {
        description: 'The settlement receipt: an x402 SettleResponse object (`transaction` is the hash).',
        schema: base64Json('X402SettleResponse', version),
      },
    },
    responses: {
      X402PaymentRequired: {
        description:
          'Payment required, or the payment was refused (`reason`). Pay one of PAYMENT-REQUIRED `accepts` and retry with PAYMENT-SIGNATURE.',
        headers: {
          'PAYMENT-REQUIRED': { $ref: '#/components/headers/X402PaymentRequired' },
          'PAYMENT-RESPONSE': {
            description: 'Present when the settlement failed (`success: false`); nothing was charged.',
            schema: base64Json('X402SettleResponse', version),
          },
        },
        content: { 'application/json': { schema: schema('X402PaymentRequiredBody') } },
      },
      X402InvalidPayment: {
        description: 'The payment header is malformed or too large (`invalid_payload`, `payload_too_large`).',
        content: { 'application/json': { schema: schema('X402Error') } },
      },
      X402Unavailable: {
        description: 'The chain, the facilitator or the ledger is unavailable: nothing was charged, retry.',
        headers: { 'Retry-After': { description: 'Seconds to wait.', schema: { type: 'integer' } } },
        content: { 'application/json': { schema: schema('X402Error') } },
      },
    },
    schemas: {
      X402PaymentRequirements: {
        type: 'object',
        required: ['scheme', 'network', 'amount', 'asset', 'payTo', 'maxTimeoutSeconds'],
        properties: {
          scheme: { type: 'string', enum: ['exact'] },
          network: { type: 'string', description: 'CAIP-2 network, e.g. eip155:8453' },
          amount: atomic,
          asset: { type: 'string', description: 'Token contract address' },
          payTo: string,
          maxTimeoutSeconds: { type: 'integer', minimum: 1 },
          extra: {
            type: 'object',
            description: "The token's EIP-712 domain",
            properties: { name: string, version: string },
          },
        },
      },
      X402ResourceInfo: {
        type: 'object',
        required: ['url'],
        properties: { url: string, description: string, mimeType: string },
      },
      X402PaymentRequired: {
        type: 'object',
        required: ['x402Version', 'resource', 'accepts'],
        properties: {
          x402Version: { type: 'integer', enum: [2] },
          error: { type: 'string', description: 'Why the payment was refused (a reason code)' },
          resource: schema('X402ResourceInfo'),
          accepts: { type: 'array', items: schema('X402PaymentRequirements') },
          extensions: {
            type: 'object',
            description: '`bazaar`: how to call this resource (x402 bazaar discovery extension)',
            additionalProperties: true,
          },
        },
      },
      X402SettleResponse: {
        type: 'object',
        required: ['success', 'transaction', 'network'],
        properties: {
          success: { type: 'boolean' },
          errorReason: string,
          errorMessage: string,
          payer: string,
          transaction: { type: 'string', description: 'Transaction hash; empty on failure' },
          network: string,
          amount: atomic,
        },
      },
      X402PaymentRequirementsV1: {
        type: 'object',
        required: ['scheme', 'network', 'maxAmountRequired', 'resource', 'payTo', 'maxTimeoutSeconds', 'asset'],
        properties: {
          scheme: string,
          network: { type: 'string', description: 'v1 network name, e.g. base-sepolia' },
          maxAmountRequired: atomic,
          resource: string,
          description: string,
          mimeType: string,
          payTo: string,
          maxTimeoutSeconds: { type: 'integer' },
          asset: string,
          extra: { type: 'object' },
        },
      },
      X402PaymentRequiredBody: {
        type: 'object',
        description: 'The 402 body: for people, error handlers and v1 clients (`x402Version`, `accepts`).',
        required: ['error', 'price', 'currency', 'paymentAddress', 'network', 'x402Version', 'accepts'],
        properties: {
          error: { type: 'string', enum: ['Payment required', 'Payment refused'] },
          reason: { type: 'string', description: 'Reason code when a payment was refused' },
          message: { type: 'string', description: 'What went wrong and what to do next' },
          price: { type: 'string', description: 'This request’s price in dollars, e.g. "0.01"' },
          currency: { type: 'string', enum: ['USDC'] },
          amount: atomic,
          paymentAddress: string,
          network: string,
          x402Version: { type: 'integer', enum: [1] },
          accepts: { type: 'array', items: schema('X402PaymentRequirementsV1') },
        },
      },
      X402Error: {
        type: 'object',
        required: ['error', 'reason', 'message'],
        properties: {
          error: { type: 'string', description: 'The reason code (kept for earlier clients)' },
          reason: { type: 'string', description: 'The reason code, snake_case' },
          message: { ...string, description: 'What happened and what to do' },
        },
      },
    },
  }
}
