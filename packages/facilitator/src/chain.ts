import { decodeFunctionResult, encodeFunctionData, type Hex } from 'viem'
import { tokenAbi } from './abi.js'
import { createRpc, type Rpc } from './rpc.js'

/** Read access to one EVM chain, with the few caches verification needs. */
export type Chain = {
  network: string
  chainId: number
  rpcUrl: string
  rpc: Rpc
  /** `eth_call` at the latest block. */
  call(to: string, data: Hex, from?: string): Promise<Hex>
  /** Whether an address holds code; a `true` answer is cached (code does not go away). */
  hasCode(address: string): Promise<boolean>
  /** Reads one view function of the token ABI. */
  readToken<T>(asset: string, functionName: string, args?: readonly unknown[]): Promise<T>
}

export function createChain(options: {
  network: string
  chainId: number
  rpcUrl: string
  /** How long one call may go unanswered. @default 10000 */
  rpcTimeoutMs?: number
}): Chain {
  const { rpcTimeoutMs, ...chain } = options
  const rpc = createRpc(options.rpcUrl, rpcTimeoutMs)
  const withCode = new Set<string>()
  const call = async (to: string, data: Hex, from?: string) =>
    (await rpc('eth_call', [{ to, data, ...(from ? { from } : {}) }, 'latest'])) as Hex
  return {
    ...chain,
    rpc,
    call,
    async hasCode(address) {
      const key = address.toLowerCase()
      if (withCode.has(key)) return true
      const code = (await rpc('eth_getCode', [address, 'latest'])) as string
      const has = code !== '0x' && code !== ''
      if (has) withCode.add(key)
      return has
    },
    async readToken<T>(asset: string, functionName: string, args: readonly unknown[] = []) {
      const data = encodeFunctionData({ abi: tokenAbi, functionName, args } as never)
      const result = await call(asset, data)
      return decodeFunctionResult({ abi: tokenAbi, functionName, data: result } as never) as T
    },
  }
}
