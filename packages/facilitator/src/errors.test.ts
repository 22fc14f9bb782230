import { X402Error } from '@402x/core'
import { describe, expect, it } from 'vitest'
import { MaybeSentError, OutOfGasError } from './gasWallet.js'
import { RpcError } from './rpc.js'

// Every fault the facilitator throws is an X402Error: a code from the closed list, the status
// a server answers with, and whether a retry can help.
describe('facilitator faults', () => {
  it('a JSON-RPC error from the node is chain_rejected, with the node code kept', () => {
    const error = new RpcError(-32000, 'nonce too low', { x: 1 })
    expect(error).toBeInstanceOf(X402Error)
    expect(error).toMatchObject({ code: 'chain_rejected', rpcCode: -32000, status: 503, retryable: true })
    expect(error.details).toEqual({ rpcCode: -32000 })
    expect(error.data).toEqual({ x: 1 })
  })

  it('a send that may have reached the node is chain_unavailable and names its transaction', () => {
    const cause = new X402Error('chain_unavailable', { message: 'timed out' })
    const sent = { hash: `0x${'ab'.repeat(32)}`, raw: '0x00', nonce: 1 } as never
    const error = new MaybeSentError(sent, cause)
    expect(error).toBeInstanceOf(X402Error)
    expect(error).toMatchObject({ code: 'chain_unavailable', status: 503, retryable: true, cause })
    expect(error.details.transaction).toBe(`0x${'ab'.repeat(32)}`)
  })

  it('a gas wallet without ETH is facilitator_unavailable and names the wallet', () => {
    const error = new OutOfGasError('0x1234', new RpcError(-32000, 'insufficient funds for gas'))
    expect(error).toBeInstanceOf(X402Error)
    expect(error).toMatchObject({ code: 'facilitator_unavailable', status: 503, retryable: true })
    expect(error.details.wallet).toBe('0x1234')
    expect(error.message).toMatch(/too little ETH/)
  })
})
