/**
 * API docs and discovery, end to end: an Express app behind `x402Middleware` serves
 * `/openapi.json` and `/.well-known/x402`; the documents validate, agree with the live 402s,
 * and the official `@x402/fetch` client pays every resource the manifest lists, on a real
 * anvil with Circle's USDC, settled by our facilitator.
 */
import { createServer, type Server } from 'node:http'
import { compileErrors, validate } from '@readme/openapi-parser'
import { decodePaymentRequiredHeader } from '@x402/core/http'
import type { PaymentPayload } from '@x402/core/types'
import {
  type DiscoveryExtension,
  validateDiscoveryExtension,
  validateDiscoveryExtensionSpec,
} from '@x402/extensions/bazaar'
import { decodePaymentResponseHeader } from '@x402/fetch'
import { x402Middleware } from '402x-api'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { close, listen, type Stack, startStack } from '../helpers/stack.js'
import { officialPayingFetch } from '../interop/official.js'

type ManifestItem = {
  resource: { url: string; description?: string; mimeType: string }
  type: string
  accepts: { scheme: string; network: string; amount?: string; asset: string; payTo: string; extra: unknown }[]
  price: { mode: 'fixed' | 'dynamic'; currency: string; amount?: string }
  input: { method?: string; routeTemplate?: string }
}
type Manifest = {
  x402Version: number
  kind: string
  items: ManifestItem[]
  resources: { url: string }[]
  openapi?: string
}

let stack: Stack
const servers: Server[] = []
let url: string
let guardUrl: string

/** A request that each priced resource serves, by route template. */
const samples: Record<string, { path: string; body?: unknown }> = {
  '/api/market/:symbol': { path: '/api/market/ETH' },
  '/api/generate': { path: '/api/generate', body: { prompt: 'a cat' } },
  '/api/premium/:var1': { path: '/api/premium/reports/2024' },
  '/api/translate': { path: '/api/translate', body: { text: 'hello' } },
}

beforeAll(async () => {
  stack = await startStack()
  const second = stack.chain.buyers[5] as NonNullable<Stack['chain']['buyers'][number]>
  const app = express()
  app.use(express.json())
  app.use(
    x402Middleware({
      ...stack.paywall(),
      // A second accepted option: the same USDC, paid to another address.
      accepts: [
        {
          network: stack.chain.network,
          asset: { address: stack.chain.usdc, eip712: stack.chain.eip712 },
          payTo: second.address,
        },
      ],
      routes: {
        'GET /api/market/:symbol': { price: 0.001, description: 'Market data' },
        'POST /api/generate': { price: 0.01, description: 'Generate an image' },
        '/api/premium/*': '$0.05',
        // $0.0001 per character: a price computed per request.
        'POST /api/translate': { price: (req: { body: { text: string } }) => 0.0001 * req.body.text.length },
      },
      discovery: {
        openapi: {
          openapi: '3.1.0',
          info: { title: 'Demo API', version: '3.0.0' },
          paths: {
            '/api/health': { get: { operationId: 'health', responses: { '200': { description: 'ok' } } } },
            '/api/generate': {
              post: {
                operationId: 'generate',
                requestBody: {
                  content: {
                    'application/json': {
                      schema: { type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] },
                      example: { prompt: 'a cat' },
                    },
                  },
                },
                responses: { '200': { description: 'The image' } },
              },
            },
          },
        },
      },
    }),
  )
  app.get('/api/health', (_req, res) => {
    res.json({ ok: true })
  })
  app.get('/api/market/:symbol', (req, res) => {
    res.json({ symbol: req.params.symbol, price: 3000 })
  })
  app.post('/api/generate', (req, res) => {
    res.json({ result: `generated: ${req.body.prompt}` })
  })
  app.get('/api/premium/*rest', (req, res) => {
    res.json({ premium: req.path })
  })
  app.post('/api/translate', (req, res) => {
    res.json({ translation: `${req.body.text}!` })
  })
  const server = createServer(app)
  servers.push(server)
  url = await listen(server)

  // A middleware without a route table guards every path it is mounted on.
  const guarded = express()
  guarded.use(x402Middleware({ ...stack.paywall(), price: 0.002, description: 'Anything' }))
  guarded.all('/*rest', (req, res) => {
    res.json({ path: req.path })
  })
  const guardServer = createServer(guarded)
  servers.push(guardServer)
  guardUrl = await listen(guardServer)
})

afterAll(async () => {
  for (const server of servers) await close(server)
  await stack?.stop()
})

const buyer = (i: number) => stack.chain.buyers[i] as NonNullable<Stack['chain']['buyers'][number]>
const balance = (address: `0x${string}`) => stack.chain.balanceOf(address)

async function getJson<T>(target: string): Promise<T> {
  const res = await fetch(target)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  expect(res.headers.get('access-control-allow-origin')).toBe('*')
  return (await res.json()) as T
}

async function expectValidOpenApi(document: unknown) {
  const result = await validate(structuredClone(document) as never)
  expect(result.valid ? 'valid' : compileErrors(result)).toBe('valid')
}

/** The live, unpaid 402 of a manifest item. */
async function unpaid(base: string, item: ManifestItem) {
  const sample = sampleFor(item)
  const res = await fetch(`${base}${sample.path}`, {
    method: item.input.method ?? 'GET',
    ...(sample.body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(sample.body) } : {}),
  })
  expect(res.status).toBe(402)
  return decodePaymentRequiredHeader(res.headers.get('payment-required') as string)
}

function sampleFor(item: ManifestItem): { path: string; body?: unknown } {
  const path = new URL(item.resource.url).pathname
  const sample = samples[item.input.routeTemplate ?? path] ?? { path }
  return sample
}

describe('discovery served by x402Middleware (Express)', () => {
  it('serves /openapi.json: a valid OpenAPI 3.1 document of the priced routes merged into the seller’s', async () => {
    const doc = await getJson<{
      openapi: string
      info: { title: string }
      servers: { url: string }[]
      paths: Record<string, Record<string, Record<string, unknown>>>
    }>(`${url}/openapi.json`)
    await expectValidOpenApi(doc)
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.info.title).toBe('Demo API')
    expect(doc.servers).toEqual([{ url }])
    expect(doc.paths['/api/health']?.get).toEqual({
      operationId: 'health',
      responses: { '200': { description: 'ok' } },
    })
    expect(doc.paths['/api/generate']?.post).toMatchObject({
      operationId: 'generate',
      'x-payment-info': { price: { mode: 'fixed', amount: '0.01' } },
      responses: { '402': { $ref: '#/components/responses/X402PaymentRequired' } },
    })
    expect(doc.paths['/api/market/{symbol}']?.get?.['x-payment-info']).toMatchObject({
      price: { mode: 'fixed', currency: 'USD', amount: '0.001' },
      accepts: [
        { network: 'eip155:31337', asset: stack.chain.usdc, payTo: stack.chain.payTo.address, amount: '1000' },
        { network: 'eip155:31337', asset: stack.chain.usdc, payTo: buyer(5).address, amount: '1000' },
      ],
    })
    expect(doc.paths['/api/translate']?.post?.['x-payment-info']).toMatchObject({ price: { mode: 'dynamic' } })
    expect(Object.keys(doc.paths['/api/premium/{var1}'] ?? {}).sort()).toEqual([
      'delete',
      'get',
      'patch',
      'post',
      'put',
    ])
    // The documents are free: the free route beside them too.
    expect((await fetch(`${url}/api/health`)).status).toBe(200)
  })

  it('serves /.well-known/x402 listing every priced resource, with the requirements its live 402 offers', async () => {
    const manifest = await getJson<Manifest>(`${url}/.well-known/x402`)
    expect(manifest).toMatchObject({ x402Version: 2, kind: 'resource-server', openapi: `${url}/openapi.json` })
    expect(manifest.items.map((i) => [i.input.method, i.resource.url, i.price])).toEqual([
      ['GET', `${url}/api/market/:symbol`, { mode: 'fixed', currency: 'USD', amount: '0.001' }],
      ['POST', `${url}/api/generate`, { mode: 'fixed', currency: 'USD', amount: '0.01' }],
      [undefined, `${url}/api/premium/:var1`, { mode: 'fixed', currency: 'USD', amount: '0.05' }],
      ['POST', `${url}/api/translate`, { mode: 'dynamic', currency: 'USD' }],
    ])
    expect(manifest.items[1]?.resource).toEqual({
      url: `${url}/api/generate`,
      description: 'Generate an image',
      mimeType: 'application/json',
    })
    expect(manifest.resources.map((r) => r.url)).toEqual(manifest.items.map((i) => i.resource.url))
    for (const item of manifest.items) {
      const live = await unpaid(url, item)
      if (item.price.mode === 'fixed') {
        expect(item.accepts).toEqual(live.accepts)
      } else {
        // A dynamic price: the same options, the amount only in the live 402 ($0.0001 × 5 characters).
        expect(item.accepts).toEqual(live.accepts.map(({ amount, ...rest }) => rest))
        expect(live.accepts.map((a) => a.amount)).toEqual(['500', '500'])
      }
    }
  })

  it('sends a bazaar extension in each 402 of a route with a method, valid for the official @x402/extensions', async () => {
    const manifest = await getJson<Manifest>(`${url}/.well-known/x402`)
    const withMethod = manifest.items.filter((i) => i.input.method)
    expect(withMethod).toHaveLength(3)
    for (const item of withMethod) {
      const live = await unpaid(url, item)
      const bazaar = live.extensions?.bazaar as DiscoveryExtension & { routeTemplate?: string }
      expect(validateDiscoveryExtension(bazaar)).toEqual({ valid: true })
      expect(validateDiscoveryExtensionSpec(bazaar as never)).toEqual({ valid: true })
      expect(bazaar.info.input).toMatchObject({ type: 'http', method: item.input.method })
      if (item.input.routeTemplate) expect(bazaar.routeTemplate).toBe(item.input.routeTemplate)
    }
    const generate = await unpaid(url, manifest.items[1] as ManifestItem)
    expect((generate.extensions?.bazaar as DiscoveryExtension | undefined)?.info.input).toEqual({
      type: 'http',
      method: 'POST',
      bodyType: 'json',
      body: { prompt: 'a cat' },
    })
  })

  it('the official @x402/fetch client pays every resource the manifest lists; USDC moves by the listed amount', async () => {
    const manifest = await getJson<Manifest>(`${url}/.well-known/x402`)
    expect(manifest.items).toHaveLength(4)
    const payer = buyer(0)
    const echoed: PaymentPayload[] = []
    const pay = officialPayingFetch({
      chain: stack.chain,
      privateKey: payer.privateKey,
      onPayload: (p) => echoed.push(p),
    })
    for (const item of manifest.items) {
      const sample = sampleFor(item)
      const expected = item.price.mode === 'fixed' ? BigInt(item.accepts[0]?.amount as string) : 500n
      const payToBefore = await balance(stack.chain.payTo.address)
      const payerBefore = await balance(payer.address)

      const res = await pay(`${url}${sample.path}`, {
        method: item.input.method ?? 'GET',
        ...(sample.body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(sample.body) } : {}),
      })

      expect([item.resource.url, res.status]).toEqual([item.resource.url, 200])
      const settle = decodePaymentResponseHeader(res.headers.get('payment-response') as string)
      expect(settle).toMatchObject({ success: true, network: 'eip155:31337', payer: payer.address })
      expect(await balance(stack.chain.payTo.address)).toBe(payToBefore + expected)
      expect(await balance(payer.address)).toBe(payerBefore - expected)
    }
    expect(echoed).toHaveLength(4)
    // The official client echoes the bazaar extension back; our server takes the payment with it.
    expect(echoed.filter((p) => p.extensions?.bazaar)).toHaveLength(4)
  })

  it('a middleware without a route table lists a path once a request reached it, and it can be paid', async () => {
    const before = await getJson<Manifest & { 'x-402x'?: { partial: string } }>(`${guardUrl}/.well-known/x402`)
    expect(before.items).toEqual([])
    expect(before['x-402x']?.partial).toMatch(/once a request has reached it/)
    const emptyDoc = await getJson<{ paths: Record<string, unknown>; 'x-402x'?: unknown }>(`${guardUrl}/openapi.json`)
    expect(emptyDoc.paths).toEqual({})
    expect(emptyDoc['x-402x']).toBeDefined()

    expect((await fetch(`${guardUrl}/api/anything`)).status).toBe(402)

    const after = await getJson<Manifest>(`${guardUrl}/.well-known/x402`)
    expect(after.items.map((i) => [i.resource.url, i.price])).toEqual([
      [`${guardUrl}/api/anything`, { mode: 'fixed', currency: 'USD', amount: '0.002' }],
    ])
    const doc = await getJson<{ paths: Record<string, Record<string, { 'x-payment-info': unknown }>> }>(
      `${guardUrl}/openapi.json`,
    )
    await expectValidOpenApi(doc)
    expect(Object.keys(doc.paths)).toEqual(['/api/anything'])

    const payer = buyer(1)
    const payToBefore = await balance(stack.chain.payTo.address)
    const pay = officialPayingFetch({ chain: stack.chain, privateKey: payer.privateKey })
    const item = after.items[0] as ManifestItem
    const res = await pay(item.resource.url, { method: item.input.method ?? 'GET' })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ path: '/api/anything' })
    expect(await balance(stack.chain.payTo.address)).toBe(payToBefore + 2000n)
  })
})
