// The gas-wallet section: settlement throughput with 1, 2 and 4 gas wallets, against anvil's
// own ceiling for the same call, in one run on one chain (each run from the same snapshot).
// - paid: paid `exact` requests through the real paywall and its in-process facilitator
//   (bench/servers/402x.js, a fresh child per wallet count), closed loop;
// - settle: `facilitator.settle()` alone, in this process, closed loop (no paywall, no HTTP);
// - ceiling: signed `transferWithAuthorization` transactions sent straight to anvil from 4
//   funded EOAs, one stream per EOA (each send awaited, as a gas wallet's queue does), until
//   every one is mined.
import { fileURLToPath } from 'node:url'
import { createPayment } from '@402x/core'
import { fiatTokenAbi } from '@402x/devchain'
import { createFacilitator } from '@402x/facilitator'
import { encodeFunctionData, parseSignature } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { anvilRpc } from './chainState.js'
import { startServer } from './children.js'
import { runLoad } from './load.js'
import { fetchTerms, poolSize, presign } from './payments.js'
import { cpuMsOf } from './procCpu.js'
import { startSlowRpc } from './slowRpc.js'

/**
 * The section's settings: settled paid `exact` per second, through the paywall and on
 * `facilitator.settle()` alone, with each count of gas wallets, closed loop; and anvil's
 * ceiling, `ceilingTxs` transfers per EOA from 4 EOAs sent straight to it, `floodSends` sends
 * in flight per EOA (its nonces signed in advance, sent in order).
 */
export const gasSettings = (quick) => ({
  wallets: [1, 2, 4],
  concurrency: 32,
  durationMs: quick ? 1500 : 5000,
  warmupMs: quick ? 500 : 1000,
  ceilingTxs: quick ? 300 : 1000,
  floodSends: 8,
  // The same paid runs again with this round trip added to every RPC call (a hosted node).
  rpcLatencyMs: 20,
})

const script = fileURLToPath(new URL('../servers/402x.js', import.meta.url))

/**
 * @param context `{ chain, buyers, base, settings, snapshot, progress }`; `settings.gas` holds
 *   the wallet counts, the callers, the timings and the ceiling's transactions per EOA.
 */
export async function runGasWallets(context) {
  const { chain, settings, progress } = context
  const s = settings.gas
  const keys = chain.gasWallets.map((w) => w.privateKey)
  if (keys.length < Math.max(...s.wallets)) throw new Error(`the devchain has ${keys.length} gas wallets`)
  const automine = await anvilRpc(chain.rpcUrl, 'anvil_getAutomine')
  const out = { automine, callers: s.concurrency, paid: [], settle: [] }
  await context.snapshot.restore()
  out.ceiling = await runCeiling(context, keys.slice(0, 4), 1)
  progress(
    `gas wallets, anvil, one awaited send after another per EOA: ${out.ceiling.rps.toFixed(1)} tx/s from 4 EOAs (${out.ceiling.txs} txs, ${out.ceiling.txsPerBlock.toFixed(2)} per block, send ${out.ceiling.sendMs.toFixed(2)} ms each)`,
  )
  await context.snapshot.restore()
  out.flood = await runCeiling(context, keys.slice(0, 4), s.floodSends)
  progress(
    `gas wallets, anvil ceiling, ${s.floodSends} sends in flight per EOA: ${out.flood.rps.toFixed(1)} tx/s from 4 EOAs (${out.flood.txs} txs, ${out.flood.txsPerBlock.toFixed(2)} per block, send ${out.flood.sendMs.toFixed(2)} ms each)`,
  )
  for (const n of s.wallets) {
    await context.snapshot.restore()
    const paid = await runPaid(context, keys.slice(0, n))
    out.paid.push({ wallets: n, ...paid })
    progress(`gas wallets, paid exact with ${n}: ${line(paid)}`)
  }
  if (s.rpcLatencyMs) {
    // Where a send takes a real node's round trip, one wallet's queue (one send after another)
    // bounds what it settles; the pool's wallets send side by side.
    const slow = await startSlowRpc(chain.rpcUrl, s.rpcLatencyMs)
    out.remote = { latencyMs: s.rpcLatencyMs, paid: [] }
    try {
      for (const n of s.wallets) {
        await context.snapshot.restore()
        const paid = await runPaid(context, keys.slice(0, n), slow.url)
        out.remote.paid.push({ wallets: n, ...paid })
        progress(`gas wallets, paid exact with ${n}, RPC ${s.rpcLatencyMs} ms away: ${line(paid)}`)
      }
    } finally {
      await slow.close()
    }
  }
  for (const n of s.wallets) {
    await context.snapshot.restore()
    const settle = await runSettle(context, keys.slice(0, n))
    out.settle.push({ wallets: n, ...settle })
    progress(`gas wallets, facilitator.settle() with ${n}: ${line(settle)}`)
  }
  return out
}

const line = (r) =>
  `${r.rps.toFixed(1)} settled/s, p50 ${r.p50?.toFixed(1) ?? '—'} ms, ${r.failed} failed of ${r.total}, ${r.txsPerBlock.toFixed(2)} txs per block, anvil ${cores(r.anvilCpu)} cores${r.check.matches ? '' : ' (ON-CHAIN MISMATCH)'}${r.reasons.length ? `; ${r.reasons.join(', ')}` : ''}`

/** anvil's CPU over a run, as a share of one core (1 = one core busy all along); null if unread. */
const anvilShare = (context, before, elapsedSeconds) => {
  const after = cpuMsOf(context.anvilPid)
  return before === undefined || after === undefined ? null : (after - before) / 1000 / elapsedSeconds
}
const cores = (share) => (share === null || share === undefined ? '—' : share.toFixed(2))

const blockNumber = async (rpcUrl) => Number(await anvilRpc(rpcUrl, 'eth_blockNumber'))

/** Paid `exact` through the paywall, with the facilitator's gas wallets `keys` (its RPC at `rpcUrl`, else anvil's). */
async function runPaid(context, keys, rpcUrl) {
  const { chain, base, buyers, settings } = context
  const s = settings.gas
  const server = await startServer(script, {
    ...base,
    ...(rpcUrl ? { rpcUrl } : {}),
    gasKeys: keys,
    ledger: `${context.outDir}gas-${keys.length}${rpcUrl ? '-remote' : ''}.db`,
  })
  try {
    const load = { port: server.port, path: '/paid', concurrency: s.concurrency }
    const terms = await fetchTerms(server.port, '/paid')
    const before = await chain.balanceOf(chain.payTo.address)
    const warmup = await runLoad({ ...load, durationMs: s.warmupMs, payments: presign({ terms, buyers, count: 400 }) })
    const payments = presign({ terms, buyers, count: poolSize(warmup, s.concurrency, s.durationMs) })
    const fromBlock = await blockNumber(chain.rpcUrl)
    const cpu = cpuMsOf(context.anvilPid)
    const result = await runLoad({ ...load, durationMs: s.durationMs, payments })
    const anvilCpu = anvilShare(context, cpu, result.elapsed)
    const blocks = (await blockNumber(chain.rpcUrl)) - fromBlock
    const received = (await chain.balanceOf(chain.payTo.address)) - before
    const ok = warmup.ok + result.ok
    return {
      rps: result.rps,
      p50: result.p50,
      ok: result.ok,
      failed: result.failed + warmup.failed,
      total: result.total + warmup.total,
      exhausted: result.exhausted,
      txsPerBlock: blocks ? result.ok / blocks : 0,
      anvilCpu,
      reasons: [...Object.entries(result.reasons), ...Object.entries(warmup.reasons)].map(([r, n]) => `${n}× ${r}`),
      check: { successes: ok, received: received.toString(), matches: received === BigInt(ok) * BigInt(base.amount) },
    }
  } finally {
    await server.stop()
  }
}

/** `facilitator.settle()` alone, in this process, on pre-signed payments. */
async function runSettle(context, keys) {
  const { chain, base, buyers, settings } = context
  const s = settings.gas
  const requirements = {
    scheme: 'exact',
    network: chain.network,
    amount: base.amount,
    asset: chain.usdc,
    payTo: chain.payTo.address,
    maxTimeoutSeconds: 60,
    extra: chain.eip712,
  }
  const facilitator = createFacilitator({
    chains: [{ network: chain.network, rpcUrl: chain.rpcUrl }],
    gasWallets: keys,
  })
  const sign = (count) =>
    Array.from({ length: count }, (_, i) => {
      const buyer = buyers[i % buyers.length]
      return createPayment({ privateKey: buyer.privateKey, from: buyer.address, requirements })
    })
  const loop = async (payments, durationMs) => {
    const latencies = []
    const reasons = new Map()
    let next = 0
    let ok = 0
    let failed = 0
    const started = performance.now()
    const deadline = started + durationMs
    const caller = async () => {
      while (performance.now() < deadline && next < payments.length) {
        const payment = payments[next++]
        const t = performance.now()
        const r = await facilitator.settle(payment, requirements).catch((e) => ({ errorReason: e.message }))
        if (r.success) {
          ok++
          latencies.push(performance.now() - t)
        } else {
          failed++
          reasons.set(r.errorReason, (reasons.get(r.errorReason) ?? 0) + 1)
        }
      }
    }
    await Promise.all(Array.from({ length: s.concurrency }, caller))
    const elapsed = (performance.now() - started) / 1000
    latencies.sort((a, b) => a - b)
    return { ok, failed, elapsed, reasons, exhausted: next >= payments.length, p50: latencies[latencies.length >> 1] }
  }
  try {
    const before = await chain.balanceOf(chain.payTo.address)
    const warmup = await loop(sign(400), s.warmupMs)
    const count = Math.min(
      40_000,
      Math.ceil(((warmup.ok + warmup.failed) / warmup.elapsed) * (s.durationMs / 1000) * 2) + 20 * s.concurrency,
    )
    const payments = sign(count)
    const fromBlock = await blockNumber(chain.rpcUrl)
    const cpu = cpuMsOf(context.anvilPid)
    const result = await loop(payments, s.durationMs)
    const anvilCpu = anvilShare(context, cpu, result.elapsed)
    const blocks = (await blockNumber(chain.rpcUrl)) - fromBlock
    const received = (await chain.balanceOf(chain.payTo.address)) - before
    const ok = warmup.ok + result.ok
    return {
      rps: result.ok / result.elapsed,
      p50: result.p50,
      ok: result.ok,
      failed: result.failed + warmup.failed,
      total: result.ok + result.failed + warmup.ok + warmup.failed,
      exhausted: result.exhausted,
      txsPerBlock: blocks ? result.ok / blocks : 0,
      anvilCpu,
      reasons: [...result.reasons, ...warmup.reasons].map(([reason, n]) => `${n}× ${reason}`),
      check: { successes: ok, received: received.toString(), matches: received === BigInt(ok) * BigInt(base.amount) },
    }
  } finally {
    facilitator.close()
  }
}

/**
 * Anvil's ceiling: `settings.gas.ceilingTxs` signed `transferWithAuthorization` transactions
 * per EOA (the same calls a facilitator sends, signed before the clock starts), one awaited
 * send after another per EOA, all EOAs at once; timed until the last is mined.
 */
async function runCeiling(context, keys, inFlight) {
  const { chain, base, buyers, settings } = context
  const per = settings.gas.ceilingTxs
  const block = await anvilRpc(chain.rpcUrl, 'eth_getBlockByNumber', ['latest', false])
  const maxFeePerGas = BigInt(block.baseFeePerGas) * 4n + 10n ** 9n
  const requirements = {
    scheme: 'exact',
    network: chain.network,
    amount: base.amount,
    asset: chain.usdc,
    payTo: chain.payTo.address,
    maxTimeoutSeconds: 300,
    extra: chain.eip712,
  }
  let k = 0
  const streams = await Promise.all(
    keys.map(async (key) => {
      const account = privateKeyToAccount(key)
      const start = Number(await anvilRpc(chain.rpcUrl, 'eth_getTransactionCount', [account.address, 'pending']))
      const raws = []
      for (let i = 0; i < per; i++) {
        const buyer = buyers[k++ % buyers.length]
        const { authorization: a, signature } = createPayment({
          privateKey: buyer.privateKey,
          from: buyer.address,
          requirements,
        }).payload
        const { v, r, s } = parseSignature(signature)
        const data = encodeFunctionData({
          abi: fiatTokenAbi,
          functionName: 'transferWithAuthorization',
          args: [a.from, a.to, BigInt(a.value), BigInt(a.validAfter), BigInt(a.validBefore), a.nonce, Number(v), r, s],
        })
        raws.push(
          await account.signTransaction({
            chainId: 31337,
            type: 'eip1559',
            nonce: start + i,
            to: chain.usdc,
            data,
            gas: 150_000n,
            maxFeePerGas,
            maxPriorityFeePerGas: 10n ** 9n,
          }),
        )
      }
      return { address: account.address, start, raws }
    }),
  )
  const before = await chain.balanceOf(chain.payTo.address)
  const fromBlock = await blockNumber(chain.rpcUrl)
  const cpu = cpuMsOf(context.anvilPid)
  const started = performance.now()
  const sendTimes = await Promise.all(
    streams.map(async ({ raws }) => {
      // `inFlight` senders per EOA take its transactions in nonce order (one: each send awaited).
      let next = 0
      const times = []
      const sender = async () => {
        while (next < raws.length) {
          const raw = raws[next++]
          const t = performance.now()
          await anvilRpc(chain.rpcUrl, 'eth_sendRawTransaction', [raw])
          times.push(performance.now() - t)
        }
      }
      await Promise.all(Array.from({ length: inFlight }, sender))
      return times.reduce((a, b) => a + b, 0) / times.length
    }),
  )
  // Mined: each EOA's mined nonce has passed its last transaction.
  const deadline = Date.now() + 60_000
  let stuck = 0
  for (const { address, start, raws } of streams) {
    while (Number(await anvilRpc(chain.rpcUrl, 'eth_getTransactionCount', [address, 'latest'])) < start + raws.length) {
      if (Date.now() > deadline) throw new Error(`anvil did not mine ${address}'s transactions within 60 s`)
      // Sends in flight side by side can reach anvil out of nonce order; automine then leaves
      // the later ones in its pool once the gap is filled: a block after 1 s without progress takes them.
      if (++stuck % 200 === 0) await anvilRpc(chain.rpcUrl, 'evm_mine')
      await new Promise((r) => setTimeout(r, 5))
    }
  }
  const elapsed = (performance.now() - started) / 1000
  const anvilCpu = anvilShare(context, cpu, elapsed)
  const blocks = (await blockNumber(chain.rpcUrl)) - fromBlock
  const txs = per * keys.length
  const received = (await chain.balanceOf(chain.payTo.address)) - before
  return {
    txs,
    rps: txs / elapsed,
    elapsed,
    txsPerBlock: blocks ? txs / blocks : 0,
    sendMs: sendTimes.reduce((a, b) => a + b, 0) / sendTimes.length,
    inFlight,
    anvilCpu,
    check: { received: received.toString(), matches: received === BigInt(txs) * BigInt(base.amount) },
  }
}

/** The section's table: settled per second, each against one wallet and against anvil's ceiling. */
export function gasWalletsTable(gas) {
  const rows = [
    '| scenario | gas wallets | settled/s | ÷ 1 wallet | ÷ anvil ceiling | p50 ms | failed | txs per block | anvil CPU (cores) | on-chain |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ]
  for (const [label, list] of [
    ['paid exact (paywall + facilitator)', gas.paid],
    ...(gas.remote ? [[`paid exact, RPC ${gas.remote.latencyMs} ms away`, gas.remote.paid]] : []),
    ['facilitator.settle() alone', gas.settle],
  ]) {
    const one = list.find((r) => r.wallets === 1)?.rps
    for (const r of list) {
      rows.push(
        `| ${label} | ${r.wallets} | ${r.rps.toFixed(1)} | ${one ? (r.rps / one).toFixed(2) : '—'} | ${(r.rps / gas.flood.rps).toFixed(2)} | ${r.p50?.toFixed(1) ?? '—'} | ${r.failed} of ${r.total} | ${r.txsPerBlock.toFixed(2)} | ${cores(r.anvilCpu)} | ${r.check.matches ? 'match' : 'MISMATCH'} |`,
      )
    }
  }
  const c = gas.ceiling
  const f = gas.flood
  rows.push(
    `| anvil ceiling: transferWithAuthorization straight to anvil, ${f.inFlight} sends in flight per EOA | 4 EOAs | ${f.rps.toFixed(1)} | — | 1 | — | — | ${f.txsPerBlock.toFixed(2)} | ${cores(f.anvilCpu)} | ${f.check.matches ? 'match' : 'MISMATCH'} |`,
    `| the same, one awaited send after another per EOA (as a gas wallet's queue) | 4 EOAs | ${c.rps.toFixed(1)} | — | ${(c.rps / f.rps).toFixed(2)} | — | — | ${c.txsPerBlock.toFixed(2)} | ${cores(c.anvilCpu)} | ${c.check.matches ? 'match' : 'MISMATCH'} |`,
  )
  return `${rows.join('\n')}\n\nanvil automine: ${gas.automine}; ${gas.callers} callers; one awaited send took ${c.sendMs.toFixed(2)} ms (4 streams), so one stream alone could send at most ${(1000 / c.sendMs).toFixed(0)} tx/s; with ${f.inFlight} in flight per EOA a send took ${f.sendMs.toFixed(2)} ms`
}
