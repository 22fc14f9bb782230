import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { checkOptions, FacilitatorRequestSchema, X402Error } from '@402x/core'
import { z } from 'zod'
import { facilitatorServerRules } from './optionRules.js'
import type { FacilitatorLike } from './types.js'

export type FacilitatorServerOptions = {
  facilitator: FacilitatorLike
  /**
   * When set, `POST /verify`, `/settle` and `/reconcile` require `Authorization: Bearer <apiKey>`:
   * a settlement spends the gas wallet's ETH.
   */
  apiKey?: string
  /** Largest request body accepted, in bytes. @default 65536 */
  maxBodyBytes?: number
}

const ReconcileSchema = FacilitatorRequestSchema.extend({ transaction: z.string().optional() })

/**
 * The facilitator as an HTTP service: `GET /supported`, `POST /verify`, `POST /settle`, plus
 * `POST /reconcile` and `GET /health`. A refusal is a 200 with `isValid:false` or
 * `success:false`; a malformed request is a 400; an unreachable chain is a 503.
 *
 * @example
 * const server = createFacilitatorServer({ facilitator })
 * server.listen(4020)
 */
export function createFacilitatorServer(options: FacilitatorServerOptions): Server {
  checkOptions(options, facilitatorServerRules, 'createFacilitatorServer()')
  const { facilitator } = options
  const maxBody = options.maxBodyBytes ?? 65_536
  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => sendError(res, error))
  })

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method === 'GET' && path === '/supported') return send(res, 200, await facilitator.supported())
    if (req.method === 'GET' && path === '/health') return send(res, 200, { ok: true })
    const action = path === '/verify' || path === '/settle' || path === '/reconcile' ? path.slice(1) : undefined
    if (!action) return send(res, 404, { error: 'not_found', message: `no route ${req.method} ${path}` })
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST')
      return send(res, 405, { error: 'method_not_allowed', message: `use POST ${path}` })
    }
    if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return send(res, 401, { error: 'unauthorized', message: 'send Authorization: Bearer <facilitator api key>' })
    }
    const json = await readJson(req, maxBody)
    if (action === 'reconcile') {
      const body = ReconcileSchema.safeParse(json)
      if (!body.success) return badRequest(res, body.error)
      const { transaction, paymentPayload, paymentRequirements } = body.data
      return send(
        res,
        200,
        await facilitator.reconcile({ paymentPayload, paymentRequirements, ...(transaction ? { transaction } : {}) }),
      )
    }
    const body = FacilitatorRequestSchema.safeParse(json)
    if (!body.success) return badRequest(res, body.error)
    const { paymentPayload, paymentRequirements } = body.data
    const result =
      action === 'verify'
        ? await facilitator.verify(paymentPayload, paymentRequirements)
        : await facilitator.settle(paymentPayload, paymentRequirements)
    return send(res, 200, result)
  }
}

function badRequest(res: ServerResponse, error: z.ZodError) {
  const issue = error.issues[0]
  send(res, 400, {
    error: 'invalid_request',
    message: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}; send { x402Version, paymentPayload, paymentRequirements }`,
  })
}

async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > max) throw new X402Error('invalid_request', { message: `body is larger than ${max} bytes` })
    chunks.push(chunk as Buffer)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (cause) {
    throw new X402Error('invalid_request', { message: 'body is not JSON', cause })
  }
}

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function sendError(res: ServerResponse, error: unknown) {
  if (res.headersSent) return res.destroy()
  if (error instanceof X402Error) {
    if (error.retryable) res.setHeader('Retry-After', '1')
    return send(res, error.status, { error: error.code, message: error.message })
  }
  send(res, 500, { error: 'internal_error', message: (error as Error).message })
}
