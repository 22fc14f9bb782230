// Every paid run starts from the same chain state: anvil slows down as its chain grows, and
// otherwise later runs would pay for earlier ones (see RESULTS.md, "Method").

/** A JSON-RPC call to anvil (snapshots), bounded. */
export async function anvilRpc(rpcUrl, method, params = []) {
  const res = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(10_000),
  })
  const body = await res.json()
  if (body.error) throw new Error(`anvil ${method}: ${body.error.message}`)
  return body.result
}

/**
 * Takes a snapshot now; `restore()` goes back to it and takes a new one (anvil's snapshots
 * are used up by a revert). A gas wallet that caches its nonce must start afresh after it.
 *
 * `restore()` also empties anvil's transaction pool, which a revert keeps: a transaction
 * left waiting behind a nonce gap (say, by the reference's nonce manager after a failed
 * send) would otherwise be mined in a later run, once that run's own transactions fill the
 * gap, and pay twice for a payment of a run already over (measured 2026-12-05: a queued
 * transaction survives `evm_revert` and is mined after it). `onDropped(count)` is told of
 * any: a clean run leaves none.
 */
export async function chainSnapshot(rpcUrl, { onDropped } = {}) {
  let id = await anvilRpc(rpcUrl, 'evm_snapshot')
  return {
    async restore() {
      const pool = await anvilRpc(rpcUrl, 'txpool_status')
      await anvilRpc(rpcUrl, 'evm_revert', [id])
      await anvilRpc(rpcUrl, 'anvil_dropAllTransactions')
      id = await anvilRpc(rpcUrl, 'evm_snapshot')
      const dropped = Number(pool.pending) + Number(pool.queued)
      if (dropped > 0) onDropped?.(dropped)
    },
  }
}
