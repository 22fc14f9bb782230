import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { X402Error } from '@402x/core'

/**
 * A JSON-RPC error answered by the node (a revert, a bad nonce …): not an outage. Its code is
 * `chain_rejected`; the node's own JSON-RPC code is `rpcCode` (and `details.rpcCode`).
 */
export class RpcError extends X402Error {
  override readonly name = 'RpcError'
  constructor(
    readonly rpcCode: number,
    message: string,
    readonly data?: unknown,
  ) {
    super('chain_rejected', { message, details: { rpcCode } })
  }
}

export type Rpc = (method: string, params: unknown[]) => Promise<unknown>

/** Network error codes that mean the request never reached the node. */
export const refusedCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])

/**
 * A minimal JSON-RPC client on keep-alive connections (node:http, about half the CPU of
 * `fetch` per call). A node that cannot be reached, or answers with an HTTP error, is a
 * `chain_unavailable` fault (retryable; `details.code` tells whether the request was refused
 * before it was sent); a JSON-RPC error is an `RpcError`.
 */
export function createRpc(url: string, timeoutMs = 10_000): Rpc {
  const target = new URL(url)
  const secure = target.protocol === 'https:'
  const agent = secure
    ? new HttpsAgent({ keepAlive: true, maxSockets: 64 })
    : new HttpAgent({ keepAlive: true, maxSockets: 64 })
  const send = secure ? httpsRequest : httpRequest
  const path = `${target.pathname}${target.search}`
  let id = 0
  const unavailable = (method: string, message: string, cause?: unknown, code?: string) =>
    new X402Error('chain_unavailable', {
      message: `the chain RPC at ${target.origin} ${message} (${method})`,
      ...(cause === undefined ? {} : { cause }),
      details: { url: target.origin, method, ...(code ? { code } : {}) },
    })
  return (method, params) =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params })
      const req = send(
        {
          agent,
          host: target.hostname,
          port: target.port || (secure ? 443 : 80),
          path,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            ...(target.username
              ? { authorization: `Basic ${Buffer.from(`${target.username}:${target.password}`).toString('base64')}` }
              : {}),
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('error', (error) => reject(unavailable(method, `failed mid-answer: ${error.message}`, error)))
          res.on('end', () => {
            if ((res.statusCode ?? 500) >= 400) {
              reject(unavailable(method, `answered HTTP ${res.statusCode}`))
              return
            }
            let parsed: { result?: unknown; error?: { code: number; message: string; data?: unknown } }
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'))
            } catch (error) {
              reject(unavailable(method, 'answered with something that is not JSON', error))
              return
            }
            if (parsed.error) reject(new RpcError(parsed.error.code, parsed.error.message, parsed.error.data))
            else resolve(parsed.result)
          })
        },
      )
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
      )
      req.on('error', (error: NodeJS.ErrnoException) =>
        reject(unavailable(method, `cannot be reached: ${error.message}`, error, error.code)),
      )
      req.end(body)
    })
}
