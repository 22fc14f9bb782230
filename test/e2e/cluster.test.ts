import { join } from 'node:path'
import { createX402Client } from '402x-client'
import postgres from 'postgres'
import { createPublicClient, erc20Abi, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DevProcess, startDevProcess } from '../helpers/devProcess.js'
import { requiredOf, signedPayment } from '../helpers/payments.js'
import { hasRedisServer, type RedisServer, startRedisServer } from '../helpers/redisServer.js'
import { freshSchema, postgresUrlOrSkip, skipOrFail } from '../helpers/services.js'
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js'

// Issue 18's cluster: `402x dev --instances 3` on one PostgreSQL (through a proxy, so that
// its outage can be staged) and one Redis of its own, driven as a load balancer would:
// concurrent paid calls, credit draw-downs on a key, a plan's rate limit, one payment sent to
// every instance, an instance SIGKILLed mid-run, each service stopped and brought back. Each
// guarantee is checked against the chain and the database afterwards.
const databaseUrl = await postgresUrlOrSkip()
const redisReady = hasRedisServer() || skipOrFail('redis-server is not on the PATH (apt-get install redis-server)')

type Ready = DevProcess['ready'] & {
  apiUrls: string[]
  instances: { url: string; pid: number }[]
  demoKeys: { plan: string; id: string; key?: string }[]
}

describe.skipIf(!databaseUrl || !redisReady)('three instances on PostgreSQL and Redis', () => {
  let dev: DevProcess
  let ready: Ready
  let schema: Awaited<ReturnType<typeof freshSchema>>
  let redis: RedisServer
  let pgProxy: TcpProxy
  let db: postgres.Sql
  let buyer: { address: `0x${string}`; privateKey: `0x${string}` }
  const savedStateDir = process.env.X402_STATE_DIR
  const at = (i: number, path: string) => `${ready.apiUrls[i % ready.apiUrls.length]}${path}`

  beforeAll(async () => {
    schema = await freshSchema(databaseUrl as string)
    db = postgres(schema.url, { max: 2, onnotice: () => {} })
    const target = new URL(databaseUrl as string)
    pgProxy = await startTcpProxy(Number(target.port || 5432), target.hostname)
    const viaProxy = new URL(schema.url)
    viaProxy.host = `127.0.0.1:${pgProxy.port}`
    redis = await startRedisServer()
    dev = await startDevProcess(
      {},
      {
        args: ['--instances', '3', '--database-url', viaProxy.toString(), '--redis-url', redis.url],
        // One public URL, as behind a load balancer: every instance quotes the same resource.
        env: { X402_RECONCILE_INTERVAL_MS: '1000', X402_PUBLIC_URL: 'http://402x-cluster.test' },
        readyMs: 120_000,
      },
    )
    ready = dev.ready as Ready
    buyer = {
      privateKey: ready.buyerPrivateKey as `0x${string}`,
      address: privateKeyToAccount(ready.buyerPrivateKey as `0x${string}`).address,
    }
    process.env.X402_STATE_DIR = join(dev.dir, '.402x')
  }, 150_000)

  afterAll(async () => {
    if (savedStateDir === undefined) delete process.env.X402_STATE_DIR
    else process.env.X402_STATE_DIR = savedStateDir
    await dev?.stop()
    await db?.end({ timeout: 1 })
    await pgProxy?.close()
    await redis?.stop()
    await schema?.drop()
  })

  const chain = () => createPublicClient({ transport: http(ready.rpcUrl) })
  const received = () =>
    chain().readContract({
      address: ready.asset as `0x${string}`,
      abi: erc20Abi,
      functionName: 'balanceOf',
      args: [ready.payTo as `0x${string}`],
    })
  const ledgerTotal = async () => {
    const [row] = await db<{ total: string }[]>`
      select coalesce(sum(amount), 0)::text as total from x402_payments where state in ('settled', 'reconciled')`
    return BigInt(row?.total ?? '0')
  }
  const until = async (what: string, check: () => Promise<boolean>, ms = 30_000) => {
    const deadline = Date.now() + ms
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`)
      await new Promise((r) => setTimeout(r, 250))
    }
  }

  it('runs three instances on consecutive ports, each its own process, on the shared stores', () => {
    expect(ready.apiUrls).toHaveLength(3)
    const ports = ready.apiUrls.map((u) => Number(new URL(u).port))
    expect(ports).toEqual([ports[0], (ports[0] as number) + 1, (ports[0] as number) + 2])
    expect(new Set(ready.instances.map((i) => i.pid)).size).toBe(3)
    expect(ready.apiUrl).toBe(ready.apiUrls[0])
  })

  it('one payment presented to every instance at once is served once and settled once', async () => {
    const quote = await fetch(at(0, '/api/market/ETH'))
    expect(quote.status).toBe(402)
    const requirements = requiredOf(quote).accepts[0]
    if (!requirements) throw new Error('no payment option')
    const header = signedPayment(buyer, requirements)
    const before = await received()
    const answers = await Promise.all(
      [0, 1, 2, 0, 1, 2].map((i) => fetch(at(i, '/api/market/ETH'), { headers: { 'payment-signature': header } })),
    )
    const statuses = answers.map((a) => a.status)
    expect(statuses.filter((s) => s === 200)).toHaveLength(1)
    expect(statuses.every((s) => s === 200 || s >= 400)).toBe(true)
    const nonce = (
      JSON.parse(Buffer.from(header, 'base64').toString()) as { payload: { authorization: { nonce: string } } }
    ).payload.authorization.nonce
    const rows = await db`select state from x402_payments where nonce = ${nonce}`
    expect(rows.filter((r) => r.state === 'settled' || r.state === 'reconciled')).toHaveLength(1)
    expect((await received()) - before).toBe(BigInt(requirements.amount))
  })

  it('concurrent paid calls over the three: every one served, and the USDC received equals the ledger', async () => {
    const before = await received()
    const ledgerBefore = await ledgerTotal()
    const client = createX402Client({ wallet: buyer.privateKey, budget: { allowedHosts: ['127.0.0.1'] } })
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => client.get(at(i, '/api/market/BTC'))))
    expect(answers.map((a) => a.status)).toEqual(Array(24).fill(200))
    expect((await received()) - before).toBe(24n * 1000n)
    expect((await ledgerTotal()) - ledgerBefore).toBe(24n * 1000n)
  })

  it('a key whose credit covers 50 calls: 200 racing calls over the three serve exactly 50, and the books balance', async () => {
    const admin = (path: string, body?: unknown) =>
      fetch(at(0, `/__402x/admin${path}`), {
        method: body ? 'POST' : 'GET',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ready.adminToken}` },
        ...(body ? { body: JSON.stringify(body) } : {}),
      }).then(async (r) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> }))
    const created = await admin('/keys', { name: 'race', plan: 'pay-as-you-go' })
    expect(created.status).toBe(201)
    const { key, info } = created.json as { key: string; info: { id: string } }
    expect((await admin(`/keys/${info.id}/credit`, { amount: '0.05', ref: 'race-credit' })).status).toBe(200)
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        fetch(at(i, '/api/keyed/quote'), { headers: { authorization: `Bearer ${key}` } }).then(async (r) => {
          await r.arrayBuffer()
          return r.status
        }),
      ),
    )
    expect(answers.filter((s) => s === 200)).toHaveLength(50)
    expect(answers.every((s) => s === 200 || s === 402 || s === 503)).toBe(true)
    const balance = (await admin(`/keys/${info.id}/credit`)).json.balance as { available: string }
    expect(Number(balance.available)).toBe(0)
    const unbalanced = await db`
      select transaction_id from x402_credit_entries group by transaction_id having sum(amount) <> 0`
    expect(unbalanced).toHaveLength(0)
    const drifted = await db`
      select b.account from x402_credit_balances b
      left join x402_credit_entries e on e.account = b.account
      group by b.account, b.balance having b.balance <> coalesce(sum(e.amount), 0)`
    expect(drifted).toHaveLength(0)
  })

  it("the free plan's rate limit holds across the three: 10 a minute in all, never 10 each", async () => {
    const free = ready.demoKeys.find((k) => k.plan === 'free')?.key
    if (!free) throw new Error('no free demo key in the ready line')
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        fetch(at(i, '/api/keyed/quote'), { headers: { authorization: `Bearer ${free}` } }).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as { reason?: string },
        })),
      ),
    )
    expect(answers.filter((a) => a.status === 200)).toHaveLength(10)
    expect(answers.filter((a) => a.status === 429).every((a) => a.body.reason === 'rate_limited')).toBe(true)
  })

  it('an instance SIGKILLed mid-run loses nothing: the others finish its payments, and the chain equals the ledger', async () => {
    const before = await received()
    const ledgerBefore = await ledgerTotal()
    const client = createX402Client({ wallet: buyer.privateKey, budget: { allowedHosts: ['127.0.0.1'] } })
    const victim = ready.instances[2] as { pid: number }
    // Killed as the first answer arrives: calls to it are then in every stage of the flow.
    let killed = false
    const kill = () => {
      if (killed) return
      killed = true
      process.kill(victim.pid, 'SIGKILL')
    }
    const calls = Array.from({ length: 45 }, (_, i) =>
      client.get(at(i, '/api/market/SOL')).then((answer) => {
        kill()
        return answer
      }),
    )
    const settled = await Promise.allSettled(calls)
    const servedCount = settled.filter((s) => s.status === 'fulfilled' && s.value.status === 200).length
    const toVictim = settled.filter((_, i) => i % 3 === 2)
    expect(servedCount).toBeGreaterThan(0)
    // The kill landed mid-run: some calls to the victim never got their answer.
    expect(toVictim.filter((s) => s.status === 'rejected').length).toBeGreaterThan(0)
    // The survivors reconcile what the dead one left (its lease runs out, or it never had one).
    await until(
      'the USDC received equals the settled payments in the ledger',
      async () => (await received()) - before === (await ledgerTotal()) - ledgerBefore,
      90_000,
    )
    await until(
      'no payment is left settling',
      async () => {
        const [row] = await db<{ n: number }[]>`select count(*)::int as n from x402_payments where state = 'settling'`
        return row?.n === 0
      },
      90_000,
    )
    expect((await client.get(at(0, '/api/market/ETH'))).status).toBe(200)
    expect(dev.stderr()).toMatch(
      /demo API instance 2 \(pid \d+, .*\) stopped \(signal SIGKILL\); the other instances keep serving/,
    )
  }, 180_000)

  it('Redis stopped mid-run: a paid call answers 503 with Retry-After and is not charged; then it recovers by itself', async () => {
    const client = createX402Client({ wallet: buyer.privateKey, budget: { allowedHosts: ['127.0.0.1'] } })
    await redis.stop()
    try {
      const before = await received()
      const quote = await fetch(at(0, '/api/market/ETH'))
      const requirements = requiredOf(quote).accepts[0]
      if (!requirements) throw new Error('no payment option')
      const down = await fetch(at(1, '/api/market/ETH'), {
        headers: { 'payment-signature': signedPayment(buyer, requirements) },
      })
      expect(down.status).toBe(503)
      expect(down.headers.get('retry-after')).toMatch(/^\d+$/)
      expect(((await down.json()) as { reason: string }).reason).toBe('store_unavailable')
      expect(await received()).toBe(before)
    } finally {
      await redis.start()
    }
    await until(
      'a paid call is served again',
      async () => (await client.get(at(1, '/api/market/ETH')).catch(() => undefined))?.status === 200,
    )
  }, 60_000)

  it('PostgreSQL cut off mid-run: a paid call answers 503 with Retry-After and is not charged; then it recovers by itself', async () => {
    const client = createX402Client({ wallet: buyer.privateKey, budget: { allowedHosts: ['127.0.0.1'] } })
    const quote = await fetch(at(0, '/api/market/ETH'))
    const requirements = requiredOf(quote).accepts[0]
    if (!requirements) throw new Error('no payment option')
    const before = await received()
    await pgProxy.cut()
    try {
      const down = await fetch(at(0, '/api/market/ETH'), {
        headers: { 'payment-signature': signedPayment(buyer, requirements) },
      })
      expect(down.status).toBe(503)
      expect(down.headers.get('retry-after')).toMatch(/^\d+$/)
      expect(((await down.json()) as { reason: string }).reason).toBe('store_unavailable')
      expect(await received()).toBe(before)
    } finally {
      await pgProxy.restore()
    }
    await until(
      'a paid call is served again',
      async () => (await client.get(at(0, '/api/market/ETH')).catch(() => undefined))?.status === 200,
      45_000,
    )
  }, 90_000)
})
