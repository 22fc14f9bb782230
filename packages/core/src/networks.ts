import { X402Error } from './errors.js'

/** An ERC-20 that supports EIP-3009, with its EIP-712 domain. */
export type Asset = {
  address: `0x${string}`
  symbol: string
  decimals: number
  /** EIP-712 domain name and version: must match the chain exactly. */
  eip712: { name: string; version: string }
}

export type Network = {
  /** CAIP-2 id, e.g. `eip155:8453`. */
  id: string
  chainId: number
  /** Human name. */
  name: string
  /** v1 network name (`base`, `base-sepolia`). */
  v1Name: string
  /** The default asset: USDC. Unset for a local chain until `402x dev` deploys it. */
  usdc?: Asset
  /** A public RPC URL, for configuration defaults. */
  rpcUrl?: string
}

const registry = new Map<string, Network>()

/**
 * Adds or replaces a network (a new chain, or the local chain's deployed USDC).
 *
 * @example
 * registerNetwork({ id: 'eip155:31337', chainId: 31337, name: 'Local', v1Name: 'localhost', usdc })
 */
export function registerNetwork(network: Network): void {
  registry.set(network.id, network)
}

registerNetwork({
  id: 'eip155:8453',
  chainId: 8453,
  name: 'Base',
  v1Name: 'base',
  rpcUrl: 'https://mainnet.base.org',
  usdc: {
    address: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
    symbol: 'USDC',
    decimals: 6,
    eip712: { name: 'USD Coin', version: '2' },
  },
})
registerNetwork({
  id: 'eip155:84532',
  chainId: 84532,
  name: 'Base Sepolia',
  v1Name: 'base-sepolia',
  rpcUrl: 'https://sepolia.base.org',
  usdc: {
    address: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
    symbol: 'USDC',
    decimals: 6,
    eip712: { name: 'USDC', version: '2' },
  },
})
registerNetwork({ id: 'eip155:31337', chainId: 31337, name: 'Local (anvil)', v1Name: 'localhost' })

/** Looks a network up by CAIP-2 id or v1 name; `undefined` when unknown. */
export function findNetwork(idOrName: string): Network | undefined {
  const direct = registry.get(idOrName)
  if (direct) return direct
  for (const network of registry.values()) if (network.v1Name === idOrName) return network
  return undefined
}

/**
 * Looks a network up by CAIP-2 id or v1 name, or throws a message listing the known ones.
 *
 * @example
 * getNetwork('base').chainId // 8453
 */
export function getNetwork(idOrName: string): Network {
  const network = findNetwork(idOrName)
  if (network) return network
  throw new X402Error('invalid_config', {
    message: `network "${idOrName}" is not known: use a CAIP-2 id such as ${[...registry.keys()].join(', ')}, or registerNetwork() first`,
    details: { network: idOrName },
  })
}

/** CAIP-2 id for a CAIP-2 id or a v1 network name; the input itself when unknown. */
export function toCaip2(idOrName: string): string {
  return findNetwork(idOrName)?.id ?? idOrName
}
