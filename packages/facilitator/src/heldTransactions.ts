import type { Chain } from './chain.js'
import type { GasWallet, SentTransaction } from './gasWallet.js'

/** A settlement transaction signed and sent whose outcome is not known yet. */
export type Held = {
  chain: Chain
  wallet: GasWallet
  sent: SentTransaction
  /** The authorization's `validBefore` (Unix seconds): past it, the transaction can only revert. */
  validBefore: bigint
}

export type HeldTransactions = {
  hold(key: string, held: Held): void
  get(key: string): Held | undefined
  release(key: string): void
  /** How many are held. */
  readonly size: number
  /** Stops the background re-sending. */
  close(): void
}

/**
 * The signed settlements whose send got no answer, or whose receipt did not come in time,
 * kept by authorization. Every `intervalMs` each is sent again (the same bytes, so the same
 * hash: a node that has it answers "already known") until it is mined, until another
 * transaction takes its nonce (it can never land), or until its authorization expires. A
 * node that never answered, or that lost it, gets it back: the seller is paid for a payment
 * whose settlement was signed, without waiting for anyone to retry.
 */
export function createHeldTransactions(options: { intervalMs: number }): HeldTransactions {
  const held = new Map<string, Held>()
  let sweeping = false
  const sweep = async () => {
    if (sweeping) return
    sweeping = true
    try {
      for (const [key, entry] of [...held]) {
        if (held.get(key) !== entry) continue
        const outcome = await settleStep(entry)
        if (outcome !== 'holding' && held.get(key) === entry) held.delete(key)
      }
    } finally {
      sweeping = false
    }
  }
  const timer = options.intervalMs > 0 ? setInterval(() => void sweep(), options.intervalMs) : undefined
  timer?.unref()
  return {
    hold: (key, entry) => void held.set(key, entry),
    get: (key) => held.get(key),
    release: (key) => void held.delete(key),
    get size() {
      return held.size
    },
    close: () => clearInterval(timer),
  }
}

/** One re-send of a held transaction: whether it is still worth holding. */
async function settleStep(entry: Held): Promise<'holding' | 'done'> {
  const { chain, sent } = entry
  const block = (await chain.rpc('eth_getBlockByNumber', ['latest', false]).catch(() => undefined)) as
    | { timestamp: string }
    | undefined
  if (block && BigInt(block.timestamp) >= entry.validBefore) return 'done'
  const mined = (await chain.rpc('eth_getTransactionReceipt', [sent.hash]).catch(() => undefined)) as
    | object
    | null
    | undefined
  if (mined) return 'done'
  const outcome = await entry.wallet.rebroadcast(sent)
  return outcome === 'taken' ? 'done' : 'holding'
}

/** What a send that got no answer turned out to be, within a bounded time. */
export type Confirmed = 'known' | 'taken' | 'unknown'

/**
 * Makes sure the node has `sent`: sends its bytes again and looks its hash up, until the node
 * knows it (`known`: mined or pooled), another transaction took its nonce (`taken`: it can
 * never land), or `timeoutMs` passes with no answer (`unknown`).
 */
export async function confirmSent(
  chain: Chain,
  wallet: GasWallet,
  sent: SentTransaction,
  timeoutMs: number,
): Promise<Confirmed> {
  const deadline = Date.now() + timeoutMs
  const bounded = <T>(work: Promise<T>, fallback: T): Promise<T> => {
    const left = deadline - Date.now()
    if (left <= 0) return Promise.resolve(fallback)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<T>((resolve) => {
      timer = setTimeout(() => resolve(fallback), left)
    })
    return Promise.race([work.catch(() => fallback), late]).finally(() => clearTimeout(timer))
  }
  for (;;) {
    const outcome = await bounded(wallet.rebroadcast(sent), 'unreachable')
    if (outcome === 'taken') return 'taken'
    if (outcome === 'accepted') {
      const known = await bounded(chain.rpc('eth_getTransactionByHash', [sent.hash]), null)
      if (known) return 'known'
    }
    if (Date.now() + 200 >= deadline) return 'unknown'
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
