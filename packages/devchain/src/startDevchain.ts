import {
  type Address,
  createPublicClient,
  createWalletClient,
  type Hex,
  http,
  type PublicClient,
  parseUnits,
} from 'viem'
import { generatePrivateKey, mnemonicToAccount, privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { anvilKeys, anvilMnemonic, roles } from './accounts.js'
import { deployUsdc, fiatTokenAbi } from './deployUsdc.js'
import { type SpawnAnvilOptions, spawnAnvil } from './spawnAnvil.js'

export type DevchainOptions = SpawnAnvilOptions & {
  /** USDC minted to each funded buyer, in whole dollars. @default 1000 */
  buyerFunds?: number
  /** How many of the dev keys (from the fifth) get USDC. @default 6 */
  buyers?: number
  /**
   * How many gas wallets the facilitator gets: the first is `facilitator` (dev key 2), the
   * others are the dev mnemonic's accounts from index 10 on, each given 10 000 ETH.
   * @default 1
   */
  gasWallets?: number
}

export type Wallet = { address: Address; privateKey: Hex }

export type Devchain = {
  rpcUrl: string
  chainId: 31337
  /** CAIP-2 network id. */
  network: 'eip155:31337'
  /** The USDC proxy address. */
  usdc: Address
  /** EIP-712 domain of the token, as in `PaymentRequirements.extra`. */
  eip712: { name: 'USD Coin'; version: '2' }
  /** This chain and its USDC in the shape `registerNetwork()` of `@402x/core` takes. */
  networkEntry: {
    id: 'eip155:31337'
    chainId: 31337
    name: string
    v1Name: string
    usdc: { address: Address; symbol: 'USDC'; decimals: 6; eip712: { name: 'USD Coin'; version: '2' } }
  }
  publicClient: PublicClient
  /** USDC owner and master minter. */
  owner: Wallet
  /** The facilitator's gas wallet (holds ETH, no USDC). */
  facilitator: Wallet
  /** The facilitator's gas wallets, `facilitator` first (`gasWallets` of the options). */
  gasWallets: Wallet[]
  /** Sets an address's ETH balance (wei), e.g. to fund a gas wallet. @default 10 000 ETH */
  fundGas(address: Address, wei?: bigint): Promise<void>
  /** The seller's receiving address. */
  payTo: Wallet
  /** Funded buyers, each holding `buyerFunds` USDC. */
  buyers: Wallet[]
  /** USDC balance in atomic units (6 decimals). */
  balanceOf(address: Address): Promise<bigint>
  /** Mints USDC (atomic units) to an address. */
  mint(to: Address, amount: bigint): Promise<void>
  /** A fresh random wallet with `amount` atomic USDC. */
  newBuyer(amount?: bigint): Promise<Wallet>
  /** Stops anvil. Safe to call twice. */
  stop(): Promise<void>
  /** Resolves when anvil exits without `stop()` (killed, crashed). */
  died: Promise<{ code: number | null; signal: string | null }>
}

const tenThousandEth = 10_000n * 10n ** 18n

const wallet = (privateKey: Hex): Wallet => ({
  address: privateKeyToAccount(privateKey).address,
  privateKey,
})

/**
 * Starts anvil, deploys Circle's USDC and funds buyers. Always `stop()` it in `finally`.
 *
 * @example
 * const chain = await startDevchain()
 * try {
 *   console.log(chain.usdc, await chain.balanceOf(chain.buyers[0].address))
 * } finally {
 *   await chain.stop()
 * }
 */
export async function startDevchain(options: DevchainOptions = {}): Promise<Devchain> {
  const anvil = await spawnAnvil(options)
  try {
    const publicClient = createPublicClient({
      chain: foundry,
      transport: http(anvil.rpcUrl),
      pollingInterval: 20,
    }) as PublicClient
    const owner = wallet(anvilKeys[roles.owner])
    const usdc = await deployUsdc({
      rpcUrl: anvil.rpcUrl,
      publicClient,
      ownerKey: owner.privateKey,
      proxyAdminKey: anvilKeys[roles.proxyAdmin],
    })
    const minter = createWalletClient({
      account: privateKeyToAccount(owner.privateKey),
      chain: foundry,
      transport: http(anvil.rpcUrl),
    })
    const mint = async (to: Address, amount: bigint) => {
      const hash = await minter.writeContract({
        address: usdc,
        abi: fiatTokenAbi,
        functionName: 'mint',
        args: [to, amount],
      })
      const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 })
      if (receipt.status !== 'success') throw new Error(`minting USDC to ${to} reverted`)
    }
    const count = options.buyers ?? 6
    const buyers = anvilKeys.slice(roles.firstBuyer, roles.firstBuyer + count).map(wallet)
    const funds = parseUnits(String(options.buyerFunds ?? 1000), 6)
    for (const buyer of buyers) await mint(buyer.address, funds)
    const fundGas = async (address: Address, wei = tenThousandEth) => {
      await publicClient.request({
        method: 'anvil_setBalance',
        params: [address, `0x${wei.toString(16)}`],
      } as never)
    }
    const facilitator = wallet(anvilKeys[roles.facilitator])
    const gasWallets = [facilitator]
    for (let i = 1; i < (options.gasWallets ?? 1); i++) {
      const key = mnemonicToAccount(anvilMnemonic, { addressIndex: anvilKeys.length - 1 + i }).getHdKey().privateKey
      const extra = wallet(`0x${Buffer.from(key as Uint8Array).toString('hex')}`)
      await fundGas(extra.address)
      gasWallets.push(extra)
    }
    const balanceOf = async (address: Address) =>
      (await publicClient.readContract({
        address: usdc,
        abi: fiatTokenAbi,
        functionName: 'balanceOf',
        args: [address],
      })) as bigint
    return {
      rpcUrl: anvil.rpcUrl,
      chainId: 31337,
      network: 'eip155:31337',
      usdc,
      eip712: { name: 'USD Coin', version: '2' },
      networkEntry: {
        id: 'eip155:31337',
        chainId: 31337,
        name: 'Local (anvil)',
        v1Name: 'localhost',
        usdc: { address: usdc, symbol: 'USDC', decimals: 6, eip712: { name: 'USD Coin', version: '2' } },
      },
      publicClient,
      owner,
      facilitator,
      gasWallets,
      fundGas,
      payTo: wallet(anvilKeys[roles.payTo]),
      buyers,
      balanceOf,
      mint,
      async newBuyer(amount = funds) {
        const buyer = wallet(generatePrivateKey())
        // FiatToken reverts a mint of 0; a buyer with no USDC just gets none.
        if (amount > 0n) await mint(buyer.address, amount)
        return buyer
      },
      stop: anvil.stop,
      died: anvil.died,
    }
  } catch (error) {
    await anvil.stop()
    throw error
  }
}
