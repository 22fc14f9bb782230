import { decodeHeader, PaymentRequiredSchema } from '@402x/core'
import { decodePaymentRequiredHeader } from '@x402/core/http'
import {
  bazaarResourceServerExtension,
  type DiscoveryExtension,
  declareDiscoveryExtension,
  extractDiscoveryInfo,
  validateDiscoveryExtension,
  validateDiscoveryExtensionSpec,
} from '@x402/extensions/bazaar'
import { afterAll, describe, expect, it } from 'vitest'
import { offlinePaywalls } from '../../../../test/helpers/offlinePaywalls.js'
import type { Paywall } from '../paywall/createPaywall.js'
import type { PaywallOptions } from '../paywall/types.js'
import { paymentRequiredResponse } from '../pipeline/paymentRequiredResponse.js'
import { createManifest } from './createManifest.js'

const paywalls = offlinePaywalls('402x-bazaar-')
afterAll(() => paywalls.close())

const origin = 'https://api.example.com'
const payTo = '0x1111111111111111111111111111111111111111'

function paywall(extra: Partial<PaywallOptions>): Paywall {
  return paywalls.make(extra)
}

const table = paywall({
  routes: {
    'GET /api/market/:symbol': { price: 0.001, description: 'Market data' },
    'POST /api/generate': 0.01,
    '/api/premium/*': '$0.05',
    'POST /api/translate': { price: () => 0.02 },
  },
  discovery: {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Seller', version: '1' },
      paths: {
        '/api/generate': {
          post: {
            requestBody: {
              content: {
                'application/json': {
                  schema: { $ref: '#/components/schemas/Prompt' },
                  example: { prompt: 'a cat' },
                },
              },
            },
            responses: {
              '200': {
                description: 'ok',
                content: {
                  'application/json': {
                    schema: { type: 'object', properties: { result: { type: 'string' } } },
                    example: { result: 'meow' },
                  },
                },
              },
            },
          },
        },
      },
      components: {
        schemas: { Prompt: { type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] } },
      },
    },
  },
})

/** The unpaid 402 the core answers for a request, decoded. */
async function unpaid(target: Paywall, method: string, path: string, body?: unknown) {
  const request = new Request(`${origin}${path}`, {
    method,
    ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  })
  const decision = await target.handle(request, target.match(method, path) ?? undefined)
  if (decision.type !== 'respond') throw new Error(`expected a 402, got ${decision.type}`)
  expect(decision.response.status).toBe(402)
  const header = decision.response.headers.get('payment-required') as string
  const ours = decodeHeader(header, PaymentRequiredSchema)
  if (!ours.ok) throw new Error(`our PaymentRequiredSchema refused the 402: ${ours.error.message}`)
  return { header, required: decodePaymentRequiredHeader(header) }
}

const bazaarOf = (required: { extensions?: Record<string, unknown> }) =>
  required.extensions?.bazaar as DiscoveryExtension & { routeTemplate?: string }

describe('the bazaar extension of a 402', () => {
  it('is what the official declareDiscoveryExtension + server enrichment produce for a GET with a path parameter', async () => {
    const { required } = await unpaid(table, 'GET', '/api/market/ETH')
    const bazaar = bazaarOf(required)
    expect(validateDiscoveryExtension(bazaar)).toEqual({ valid: true })
    expect(validateDiscoveryExtensionSpec(bazaar as never)).toEqual({ valid: true })
    const official = bazaarResourceServerExtension.enrichDeclaration?.(declareDiscoveryExtension({}).bazaar, {
      method: 'GET',
      routePattern: 'GET /api/market/:symbol'.slice(4),
      adapter: { getPath: () => '/api/market/ETH' },
    }) as DiscoveryExtension & { routeTemplate?: string }
    expect(bazaar.info.input).toEqual(official.info.input)
    expect(bazaar.routeTemplate).toBe(official.routeTemplate)
    expect(bazaar.info.input).toEqual({ type: 'http', method: 'GET', queryParams: {}, pathParams: { symbol: 'ETH' } })
    expect(bazaar.routeTemplate).toBe('/api/market/:symbol')
    expect(bazaar.info.output).toEqual({ type: 'json', format: 'application/json' })
  })

  it("carries the seller's body schema and examples, and a facilitator catalogs it under the route", async () => {
    const { required } = await unpaid(table, 'POST', '/api/generate', { prompt: 'x' })
    const bazaar = bazaarOf(required)
    expect(validateDiscoveryExtension(bazaar)).toEqual({ valid: true })
    expect(bazaar.info.input).toEqual({ type: 'http', method: 'POST', bodyType: 'json', body: { prompt: 'a cat' } })
    expect(bazaar.schema.properties.input.properties).toMatchObject({
      body: { type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] },
    })
    expect(bazaar.info.output).toEqual({ type: 'json', format: 'application/json', example: { result: 'meow' } })
    // What a facilitator does with the payload a client echoes back.
    const accepted = required.accepts[0] as NonNullable<(typeof required.accepts)[0]>
    const discovered = extractDiscoveryInfo(
      { x402Version: 2, resource: required.resource, accepted, payload: {}, extensions: required.extensions ?? {} },
      accepted,
    )
    expect(discovered).toMatchObject({
      resourceUrl: `${origin}/api/generate`,
      method: 'POST',
      description: '',
      mimeType: 'application/json',
    })
  })

  it('names a wildcard :var1 (as the official server does) and takes the method a request for any method used', async () => {
    const { required } = await unpaid(table, 'GET', '/api/premium/reports/2024')
    expect(required.accepts[0]?.amount).toBe('50000')
    const accepted = required.accepts[0] as NonNullable<(typeof required.accepts)[0]>
    const response = paymentRequiredResponse({
      paywall: table.config,
      route: table.match('DELETE', '/api/premium/reports/2024') as NonNullable<ReturnType<Paywall['match']>>,
      accepts: [accepted],
      url: `${origin}/api/premium/reports/2024`,
      price: '0.05',
      method: 'DELETE',
    })
    const bazaar = bazaarOf(decodePaymentRequiredHeader(response.headers.get('payment-required') as string))
    expect(validateDiscoveryExtension(bazaar)).toEqual({ valid: true })
    expect(bazaar.routeTemplate).toBe('/api/premium/:var1')
    expect(bazaar.info.input).toEqual({
      type: 'http',
      method: 'DELETE',
      queryParams: {},
      pathParams: { var1: 'reports/2024' },
    })
    // Without the method, a route for any method has no bazaar shape: none is sent.
    const unknown = paymentRequiredResponse({
      paywall: table.config,
      route: table.match('GET', '/api/premium/x') as NonNullable<ReturnType<Paywall['match']>>,
      accepts: [accepted],
      url: `${origin}/api/premium/x`,
      price: '0.05',
    })
    expect(decodePaymentRequiredHeader(unknown.headers.get('payment-required') as string).extensions).toBeUndefined()
  })

  it('is left out when discovery is off', async () => {
    const quiet = paywall({ routes: { 'GET /q': 0.01 }, discovery: false })
    const { required } = await unpaid(quiet, 'GET', '/q')
    expect(Object.keys(required.extensions ?? {})).toEqual(['402x-credits'])
    const bare = paywall({ routes: { 'GET /q': 0.01 }, discovery: false, credits: false })
    expect((await unpaid(bare, 'GET', '/q')).required.extensions).toBeUndefined()
  })
})

describe('the /.well-known/x402 manifest', () => {
  it('lists every priced route with its URL, method, price, requirements, description and MIME type', () => {
    const manifest = createManifest(table.config, origin)
    expect(manifest).toMatchObject({ x402Version: 2, kind: 'resource-server', openapi: `${origin}/openapi.json` })
    expect(manifest.items.map((i) => [i.input.method, i.resource.url, i.price])).toEqual([
      ['GET', `${origin}/api/market/:symbol`, { mode: 'fixed', currency: 'USD', amount: '0.001' }],
      ['POST', `${origin}/api/generate`, { mode: 'fixed', currency: 'USD', amount: '0.01' }],
      [undefined, `${origin}/api/premium/:var1`, { mode: 'fixed', currency: 'USD', amount: '0.05' }],
      ['POST', `${origin}/api/translate`, { mode: 'dynamic', currency: 'USD' }],
    ])
    const market = manifest.items[0]
    expect(market?.resource).toEqual({
      url: `${origin}/api/market/:symbol`,
      description: 'Market data',
      mimeType: 'application/json',
    })
    expect(market?.type).toBe('http')
    expect(market?.input).toMatchObject({ routeTemplate: '/api/market/:symbol', pathParams: { required: ['symbol'] } })
    expect(market?.accepts).toEqual([
      {
        scheme: 'exact',
        network: 'eip155:8453',
        amount: '1000',
        asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
        payTo,
        maxTimeoutSeconds: 60,
        extra: { name: 'USD Coin', version: '2' },
      },
    ])
    expect(manifest.items[3]?.accepts[0]).not.toHaveProperty('amount')
    expect(manifest.items[1]?.input).toMatchObject({ bodyType: 'json', body: { required: ['prompt'] } })
    expect(manifest.resources).toContainEqual({
      url: `${origin}/api/market/:symbol`,
      method: 'GET',
      description: 'Market data',
    })
  })

  it('lists the paths of a paywall without a route table once requests reached them', async () => {
    const guard = paywall({ price: 0.01, description: 'Generate' })
    expect(createManifest(guard.config, origin).items).toEqual([])
    expect(createManifest(guard.config, origin)['x-402x']?.partial).toMatch(/once a request has reached it/)
    await unpaid(guard, 'POST', '/api/generate')
    await unpaid(guard, 'POST', '/api/generate')
    const urls = () => createManifest(guard.config, origin).items.map((i) => i.resource.url)
    expect(urls()).toEqual([`${origin}/api/generate`])
    expect(createManifest(guard.config, origin).items[0]?.price).toEqual({
      mode: 'fixed',
      currency: 'USD',
      amount: '0.01',
    })
    // With the request's method, the path is listed for that method.
    const route = guard.match('PUT', '/api/other') as NonNullable<ReturnType<Paywall['match']>>
    paymentRequiredResponse({
      paywall: guard.config,
      route,
      accepts: [],
      url: `${origin}/api/other`,
      price: '0.01',
      method: 'PUT',
    })
    const other = createManifest(guard.config, origin).items.find((i) => i.resource.url === `${origin}/api/other`)
    expect(other?.input.method).toBe('PUT')
  })
})
