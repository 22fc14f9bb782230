import { compileErrors, validate } from '@readme/openapi-parser'
import { afterAll, describe, expect, it } from 'vitest'
import { offlinePaywalls } from '../../../../test/helpers/offlinePaywalls.js'
import type { Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions } from '../paywall/types.js'
import { createOpenApi } from './createOpenApi.js'

const paywalls = offlinePaywalls('402x-openapi-')
afterAll(() => paywalls.close())

const payTo = '0x1111111111111111111111111111111111111111'
const otherPayTo = '0x2222222222222222222222222222222222222222'
const baseUsdc = '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913'
const sepoliaUsdc = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'
const dai = '0x50c5725949A6F0c72E6C4a641F24049A917DB0Cb'

const routes = {
  'GET /api/market/:symbol': { price: 0.001, description: 'Market data' },
  'POST /api/generate': 0.01,
  '/api/premium/*': '$0.05',
  'POST /api/translate': { price: (req: { body?: { text?: string } }) => (req.body?.text?.length ?? 0) * 0.0001 },
}

/** A real paywall on Base with two more accepted options (Base Sepolia USDC, an 18-decimal token). */
function paywall(extra: Partial<PaywallOptions> = {}): Paywall {
  return paywalls.make({
    accepts: [
      { network: 'eip155:84532' },
      {
        network: 'eip155:8453',
        asset: { address: dai, eip712: { name: 'Dai Stablecoin', version: '1' }, decimals: 18 },
        payTo: otherPayTo,
      },
    ],
    routes,
    ...extra,
  })
}

/** Validates with a real OpenAPI 3.0/3.1 validator (schema and semantic rules); fails with its report. */
async function expectValid(document: unknown) {
  const result = await validate(structuredClone(document) as never)
  expect(result.valid ? 'valid' : compileErrors(result)).toBe('valid')
}

type Doc = {
  openapi: string
  info: { title: string; version: string }
  servers?: { url: string }[]
  paths: Record<string, Record<string, Record<string, unknown> & { 'x-payment-info'?: PaymentInfo }>>
  components: Record<string, Record<string, unknown>>
}
type PaymentInfo = {
  price: { mode: string; currency: string; amount?: string }
  protocols: { x402: { x402Versions: number[]; schemes: string[] } }[]
  accepts: { scheme: string; network: string; asset: string; payTo: string; amount?: string; extra: { name: string } }[]
}

describe('createOpenApi', () => {
  it('documents every priced route as a valid OpenAPI 3.1 document', async () => {
    const doc = createOpenApi({ paywall: paywall(), serverUrl: 'https://api.example.com' }) as Doc
    await expectValid(doc)
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.servers).toEqual([{ url: 'https://api.example.com' }])
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/generate',
      '/api/market/{symbol}',
      '/api/premium/{var1}',
      '/api/translate',
    ])
    const market = doc.paths['/api/market/{symbol}']?.get
    expect(market?.summary).toBe('Market data')
    expect(market?.parameters).toEqual([{ name: 'symbol', in: 'path', required: true, schema: { type: 'string' } }])
    expect(market?.security).toEqual([{ X402Payment: [] }, { X402PaymentV1: [] }])
    expect(market?.responses).toMatchObject({
      '200': { headers: { 'PAYMENT-RESPONSE': { $ref: '#/components/headers/X402PaymentResponse' } } },
      '402': { $ref: '#/components/responses/X402PaymentRequired' },
    })
    expect(doc.components.securitySchemes?.X402Payment).toMatchObject({
      type: 'apiKey',
      in: 'header',
      name: 'PAYMENT-SIGNATURE',
    })
    expect(doc.components.headers?.X402PaymentRequired).toMatchObject({
      schema: { contentEncoding: 'base64', contentSchema: { $ref: '#/components/schemas/X402PaymentRequired' } },
    })
  })

  it('prices each accepted option in its own atomic units, in the seller order', () => {
    const doc = createOpenApi({ paywall: paywall() }) as Doc
    const info = doc.paths['/api/market/{symbol}']?.get?.['x-payment-info']
    expect(info?.price).toEqual({ mode: 'fixed', currency: 'USD', amount: '0.001' })
    expect(info?.protocols[0]?.x402).toMatchObject({ x402Versions: [2, 1], schemes: ['exact'] })
    expect(info?.accepts).toEqual([
      {
        scheme: 'exact',
        network: 'eip155:8453',
        amount: '1000',
        asset: baseUsdc,
        payTo,
        maxTimeoutSeconds: 60,
        extra: { name: 'USD Coin', version: '2' },
      },
      {
        scheme: 'exact',
        network: 'eip155:84532',
        amount: '1000',
        asset: sepoliaUsdc,
        payTo,
        maxTimeoutSeconds: 60,
        extra: { name: 'USDC', version: '2' },
      },
      {
        scheme: 'exact',
        network: 'eip155:8453',
        amount: '1000000000000000',
        asset: dai,
        payTo: otherPayTo,
        maxTimeoutSeconds: 60,
        extra: { name: 'Dai Stablecoin', version: '1' },
      },
    ])
  })

  it('documents a computed price as dynamic, with no amount', () => {
    const doc = createOpenApi({ paywall: paywall() }) as Doc
    const info = doc.paths['/api/translate']?.post?.['x-payment-info']
    expect(info?.price).toEqual({ mode: 'dynamic', currency: 'USD' })
    expect(info?.accepts.map((a) => a.amount)).toEqual([undefined, undefined, undefined])
    expect(info?.accepts.map((a) => a.network)).toEqual(['eip155:8453', 'eip155:84532', 'eip155:8453'])
  })

  it('documents a wildcard route for any method under each method that can be charged', () => {
    const doc = createOpenApi({ paywall: paywall() }) as Doc
    const premium = doc.paths['/api/premium/{var1}'] ?? {}
    expect(Object.keys(premium).sort()).toEqual(['delete', 'get', 'patch', 'post', 'put'])
    expect(premium.get?.parameters).toEqual([
      expect.objectContaining({
        name: 'var1',
        in: 'path',
        required: true,
        description: expect.stringContaining('/api/premium/'),
      }),
    ])
    expect(premium.get?.['x-payment-info']?.price).toEqual({ mode: 'fixed', currency: 'USD', amount: '0.05' })
  })

  it("merges into the seller's 3.1 document: keeps theirs, annotates priced operations, adds the rest", async () => {
    const seller = {
      openapi: '3.1.0',
      info: { title: 'Seller API', version: '2.0.0' },
      security: [{ apiKey: [] }],
      paths: {
        '/api/market/{sym}': {
          get: {
            operationId: 'getMarket',
            parameters: [
              { name: 'sym', in: 'path', required: true, schema: { type: 'string' } },
              { name: 'interval', in: 'query', schema: { type: 'string' }, example: '1h' },
            ],
            responses: {
              '200': {
                description: 'A quote',
                content: { 'application/json': { schema: { $ref: '#/components/schemas/Quote' } } },
              },
            },
          },
        },
        '/api/generate': {
          get: { operationId: 'listGenerations', responses: { '200': { description: 'Free list' } } },
        },
        '/api/health': { get: { operationId: 'health', security: [], responses: { '200': { description: 'ok' } } } },
      },
      components: {
        schemas: { Quote: { type: 'object', properties: { symbol: { type: 'string' }, price: { type: 'number' } } } },
        securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
      },
    }
    const before = structuredClone(seller)
    const doc = createOpenApi({ paywall: paywall({ discovery: { openapi: seller } }) }) as Doc
    await expectValid(doc)
    expect(seller).toEqual(before) // the seller's object is not modified
    expect(doc.info).toEqual({ title: 'Seller API', version: '2.0.0' })
    // Their free operations are untouched.
    expect(doc.paths['/api/health']?.get).toEqual(seller.paths['/api/health'].get)
    expect(doc.paths['/api/generate']?.get).toEqual(seller.paths['/api/generate'].get)
    // Their priced operation keeps its own parameters and gains the payment.
    const market = doc.paths['/api/market/{sym}']?.get
    expect(market?.operationId).toBe('getMarket')
    expect(market?.parameters).toEqual(seller.paths['/api/market/{sym}'].get.parameters)
    expect(market?.['x-payment-info']?.price.amount).toBe('0.001')
    expect(market?.security).toEqual([
      { apiKey: [], X402Payment: [] },
      { apiKey: [], X402PaymentV1: [] },
    ])
    expect(market?.responses).toMatchObject({
      '200': {
        description: 'A quote',
        headers: { 'PAYMENT-RESPONSE': { $ref: '#/components/headers/X402PaymentResponse' } },
      },
      '402': { $ref: '#/components/responses/X402PaymentRequired' },
    })
    // No second path of the same shape: the route went into theirs.
    expect(doc.paths['/api/market/{symbol}']).toBeUndefined()
    // Routes they do not describe are added, beside their operations on the same path.
    expect(doc.paths['/api/generate']?.post?.['x-payment-info']?.price.amount).toBe('0.01')
    expect(doc.paths['/api/translate']?.post?.['x-payment-info']?.price.mode).toBe('dynamic')
    expect(doc.paths['/api/premium/{var1}']?.get).toBeDefined()
    expect(doc.components.schemas?.Quote).toEqual(seller.components.schemas.Quote)
    expect(doc.components.securitySchemes?.apiKey).toEqual(seller.components.securitySchemes.apiKey)
    expect(doc.components.schemas?.X402PaymentRequired).toBeDefined()
  })

  it("merges into a seller's 3.0 document and stays valid 3.0", async () => {
    const seller = {
      openapi: '3.0.3',
      info: { title: 'Old API', version: '1.2.3' },
      paths: {
        '/api/generate': {
          post: {
            operationId: 'generate',
            requestBody: {
              content: {
                'application/json': { schema: { type: 'object', properties: { prompt: { type: 'string' } } } },
              },
            },
            responses: { '201': { description: 'Created' } },
          },
        },
      },
    }
    const doc = createOpenApi({ paywall: paywall({ discovery: { openapi: seller } }) }) as Doc
    await expectValid(doc)
    expect(doc.openapi).toBe('3.0.3')
    expect(doc.paths['/api/generate']?.post?.operationId).toBe('generate')
    expect(doc.paths['/api/generate']?.post?.['x-payment-info']?.price.amount).toBe('0.01')
    expect(doc.components.headers?.X402PaymentRequired).not.toHaveProperty('schema.contentSchema')
  })

  it("puts routes outside the seller's base path under a server of their own", async () => {
    const seller = {
      openapi: '3.1.0',
      info: { title: 'Versioned', version: '1' },
      servers: [{ url: 'https://api.example.com/v1' }],
      paths: { '/things': { get: { responses: { '200': { description: 'free' } } } } },
    }
    const doc = createOpenApi({
      paywall: paywall({
        routes: { 'GET /v1/things/:id': 0.02, 'GET /api/market/:symbol': 0.001 },
        discovery: { openapi: seller },
      }),
    }) as Doc
    await expectValid(doc)
    expect(doc.paths['/things/{id}']?.get?.['x-payment-info']?.price.amount).toBe('0.02')
    expect(doc.paths['/api/market/{symbol}']).toMatchObject({ servers: [{ url: '/' }] })
  })
})
