import type { Hex } from 'viem'
import type { Chain } from './chain.js'
import { createGasWallet, type GasWallet, type OutOfGasError } from './gasWallet.js'

/** One gas wallet of the pool, as an operator sees it (see `Facilitator.gasWallets`). */
export type GasWalletStatus = {
  address: string
  /** Settlements sent from it and not yet confirmed. */
  inFlight: number
  /**
   * Why it is out of rotation (the node refused its last transaction for want of ETH for
   * gas), until `retryAt`; absent while it settles.
   */
  outOfGas?: { message: string; retryAt: number }
}

/** The gas wallets of one chain, each with its own nonce sequence. */
export type GasWalletPool = {
  wallets: GasWallet[]
  /**
   * The wallet in rotation with the fewest settlements in flight, leaving out `tried`; a
   * wallet out of gas is back in rotation once its pause is over (funded since, it settles;
   * still short, it is refused at once and paused again). `undefined` when none is left.
   */
  pick(tried?: ReadonlySet<GasWallet>): GasWallet | undefined
  /** Takes a wallet the node refused for want of gas out of rotation for `pauseMs`. */
  outOfGas(wallet: GasWallet, error: OutOfGasError): void
  status(): GasWalletStatus[]
}

/**
 * Spreads settlements over several gas wallets: the one with the fewest in flight sends next
 * (each wallet serialises its own sends, so a burst of settlements fills every wallet's
 * queue evenly). A wallet that cannot pay for gas is paused, and the settlement moves on to
 * another one.
 */
export function createGasWalletPool(chain: Chain, keys: readonly Hex[], options: { pauseMs: number }): GasWalletPool {
  const wallets = keys.map((key) => createGasWallet(chain, key))
  const paused = new Map<GasWallet, { message: string; retryAt: number }>()
  const inRotation = (wallet: GasWallet, now: number) => {
    const pause = paused.get(wallet)
    if (!pause) return true
    if (now < pause.retryAt) return false
    paused.delete(wallet)
    return true
  }
  return {
    wallets,
    pick(tried) {
      const now = Date.now()
      let best: GasWallet | undefined
      for (const wallet of wallets) {
        if (tried?.has(wallet) || !inRotation(wallet, now)) continue
        if (!best || wallet.inFlight < best.inFlight) best = wallet
      }
      return best
    },
    outOfGas(wallet, error) {
      paused.set(wallet, { message: error.message, retryAt: Date.now() + options.pauseMs })
    },
    status: () =>
      wallets.map((wallet) => {
        const pause = paused.get(wallet)
        const current = pause && Date.now() < pause.retryAt ? { outOfGas: { ...pause } } : {}
        return { address: wallet.address, inFlight: wallet.inFlight, ...current }
      }),
  }
}
