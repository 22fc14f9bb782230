import { startDevchain } from '@402x/devchain'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error: the bench is plain JavaScript, with no type declarations
import { anvilRpc, chainSnapshot } from '../../bench/lib/chainState.js'

// The bench's snapshot restore: every paid run starts from the same chain state, and a
// transaction an earlier run left waiting in anvil's pool must never be mined in a later one.
let chain: Awaited<ReturnType<typeof startDevchain>>
beforeAll(async () => {
  chain = await startDevchain({ buyers: 0 })
})
afterAll(async () => {
  await chain?.stop()
})

describe('bench chainSnapshot', () => {
  it('drops a transaction left queued behind a nonce gap, so it is not mined after the revert', async () => {
    const rpc = (method: string, params: unknown[] = []) => anvilRpc(chain.rpcUrl, method, params)
    const account = privateKeyToAccount(chain.facilitator.privateKey)
    const send = async (nonce: number) =>
      rpc('eth_sendRawTransaction', [
        await account.signTransaction({
          type: 'eip1559',
          chainId: 31337,
          nonce,
          to: '0x000000000000000000000000000000000000dEaD',
          value: 1n,
          gas: 21_000n,
          maxFeePerGas: 10_000_000_000n,
          maxPriorityFeePerGas: 1n,
        }),
      ])
    const count = async () => Number(await rpc('eth_getTransactionCount', [account.address, 'latest']))
    const start = await count()
    const dropped: number[] = []
    const snapshot = await chainSnapshot(chain.rpcUrl, { onDropped: (n: number) => dropped.push(n) })

    await send(start)
    await send(start + 2) // queued: start + 1 is missing
    expect(await count()).toBe(start + 1)
    await snapshot.restore()
    expect(dropped).toEqual([1])
    expect(await count()).toBe(start)

    // After the revert, the run's own transactions fill the gap: the old one must not follow.
    await send(start)
    await send(start + 1)
    // The pool lets go of mined transactions a moment later: wait until it is empty, when
    // anything it held has been mined or dropped.
    for (let i = 0; i < 100; i++) {
      const pool = (await rpc('txpool_status')) as { pending: string; queued: string }
      if (Number(pool.pending) + Number(pool.queued) === 0) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(await rpc('txpool_status')).toEqual({ pending: '0x0', queued: '0x0' })
    expect(await count()).toBe(start + 2)

    await snapshot.restore()
    expect(dropped).toEqual([1]) // a clean run drops nothing
  })
})
