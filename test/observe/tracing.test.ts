import type { PaymentRequirements } from '@402x/core'
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { createPaywall, type Paywall } from '402x-api'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { requiredOf, signedPayment } from '../helpers/payments.js'
import { type Stack, startStack } from '../helpers/stack.js'

// OpenTelemetry spans around verify, settle and the ledger's calls, with a real SDK's
// in-memory exporter: children of the span active when the paywall is called. The SDK is
// registered through the app's own `@opentelemetry/api` (1.9 here, as the SDK requires), the
// copy 402x-api uses too: it is a peer dependency.
const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
const contextManager = new AsyncLocalStorageContextManager().enable()
let stack: Stack
let paywall: Paywall

beforeAll(async () => {
  context.setGlobalContextManager(contextManager)
  trace.setGlobalTracerProvider(provider)
  stack = await startStack()
  paywall = createPaywall({ ...stack.paywall(), price: 0.01 })
}, 60_000)

afterAll(async () => {
  await paywall?.close()
  await stack?.stop()
  trace.disable()
  context.disable()
})

it('exports verify, settle and ledger spans as children of the request span, with no secret', async () => {
  const unpaid = await paywall.handle(new Request('http://127.0.0.1:4021/api/data'))
  expect(unpaid.type).toBe('respond')
  const requirements = requiredOf((unpaid as { response: Response }).response).accepts[0] as PaymentRequirements
  const buyer = stack.chain.buyers[0] as { address: `0x${string}`; privateKey: `0x${string}` }
  const signature = signedPayment(buyer, requirements)
  exporter.reset()
  const tracer = trace.getTracer('test')
  const status = await tracer.startActiveSpan('GET /api/data', async (parent) => {
    const decision = await paywall.handle(
      new Request('http://127.0.0.1:4021/api/data', { headers: { 'payment-signature': signature } }),
    )
    if (decision.type !== 'proceed') throw new Error(`expected proceed, got ${decision.type}`)
    const answer = await decision.finish(new Response('{"ok":true}', { status: 200 }))
    parent.end()
    return answer.status
  })
  expect(status).toBe(200)
  const spans = exporter.getFinishedSpans()
  const root = spans.find((s) => s.name === 'GET /api/data')
  expect(root).toBeDefined()
  const rootId = root?.spanContext().spanId
  const names = spans.filter((s) => s.parentSpanContext?.spanId === rootId).map((s) => s.name)
  expect(names).toEqual(
    expect.arrayContaining(['402x.facilitator.verify', '402x.facilitator.settle', '402x.ledger.insert']),
  )
  const verify = spans.find((s) => s.name === '402x.facilitator.verify')
  expect(verify?.attributes).toMatchObject({ 'x402.network': stack.chain.network, 'x402.valid': true })
  const settle = spans.find((s) => s.name === '402x.facilitator.settle')
  expect(settle?.attributes['x402.transaction']).toMatch(/^0x[0-9a-f]{64}$/)
  expect(spans.find((s) => s.name === '402x.ledger.transition')?.attributes['x402.state']).toBe('settled')
  const everything = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes })))
  expect(everything).not.toContain(signature)
  expect(everything).not.toContain(JSON.parse(Buffer.from(signature, 'base64').toString()).payload.signature)
})
