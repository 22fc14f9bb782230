import { X402Error } from '@402x/core'

/** A JSON-RPC error answered by the node (a revert, a bad nonce …): not an outage. */
export class RpcError extends Error {
  override readonly name = 'RpcError'
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message)
  }
}

export type Rpc = (method: string, params: unknown[]) => Promise<unknown>

/**
 * A minimal JSON-RPC client over fetch. A node that cannot be reached, or answers with an
 * HTTP error, is a `chain_unavailable` fault (retryable); a JSON-RPC error is an `RpcError`.
 */
export function createRpc(url: string, timeoutMs = 10_000): Rpc {
  let id = 0
  return async (method, params) => {
    let response: Response
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (cause) {
      throw new X402Error('chain_unavailable', {
        message: `the chain RPC at ${url} cannot be reached (${method}): ${(cause as Error).message}`,
        cause,
        details: { url, method },
      })
    }
    if (!response.ok) {
      throw new X402Error('chain_unavailable', {
        message: `the chain RPC at ${url} answered HTTP ${response.status} to ${method}`,
        details: { url, method, status: response.status },
      })
    }
    const body = (await response.json()) as {
      result?: unknown
      error?: { code: number; message: string; data?: unknown }
    }
    if (body.error) throw new RpcError(body.error.code, body.error.message, body.error.data)
    return body.result
  }
}
