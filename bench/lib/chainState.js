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
 */
export async function chainSnapshot(rpcUrl) {
  let id = await anvilRpc(rpcUrl, 'evm_snapshot')
  return {
    async restore() {
      await anvilRpc(rpcUrl, 'evm_revert', [id])
      id = await anvilRpc(rpcUrl, 'evm_snapshot')
    },
  }
}
