import { wrapFetch } from '402x-client'

export type DemoTrafficOptions = {
  /** The demo API's URLs (several with `--instances`): calls go round them. */
  apiUrls: string[]
  /** Funded buyer wallets: the first ones pay per request, the last buys credit. */
  buyers: { privateKey: string }[]
  /** A demo API key (the pay-as-you-go plan's), when this run made one. */
  key: string | undefined
  /**
   * About how long between two calls, in ms.
   * @default 1500
   */
  everyMs?: number
}

type Call = { weight: number; run: (url: string) => Promise<unknown> }

/**
 * The demo traffic of `402x dev` (on unless `--no-demo-traffic`): a few callers paying per
 * request, one spending prepaid credit, one with an API key, and some refused calls (no
 * payment, a wrong key), at a low rate in this process, so the dashboard shows a live
 * business at once. `stop()` ends it; a call in flight finishes or fails quietly.
 *
 * @example
 * const traffic = startDemoTraffic({ apiUrls, buyers: chain.buyers.slice(1), key })
 * await traffic.stop()
 */
export function startDemoTraffic(options: DemoTrafficOptions) {
  const controller = new AbortController()
  const signal = controller.signal
  const budget = { allowedHosts: ['127.0.0.1', 'localhost'], maxPerRequest: 1 }
  const payers = options.buyers
    .slice(0, Math.max(1, options.buyers.length - 1))
    .map((wallet) => wrapFetch(fetch, { wallet: wallet.privateKey, budget, credits: false, signIn: false }))
  const creditBuyer = options.buyers[options.buyers.length - 1]
  const credit = creditBuyer
    ? wrapFetch(fetch, { wallet: creditBuyer.privateKey, budget, credits: { topUp: 0.25, when: 0.01 } })
    : undefined
  const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)] as T
  const symbols = ['BTC', 'ETH', 'SOL', 'USDC'] as const
  const calls: Call[] = [
    { weight: 4, run: (url) => pick(payers)(`${url}/api/market/${pick(symbols)}`, { signal }) },
    {
      weight: 1,
      run: (url) =>
        pick(payers)(`${url}/api/generate`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: pick(['a cat', 'a lighthouse', 'a paid API']) }),
          signal,
        }),
    },
    ...(credit ? [{ weight: 3, run: (url: string) => credit(`${url}/api/market/${pick(symbols)}`, { signal }) }] : []),
    ...(options.key
      ? [
          {
            weight: 2,
            run: (url: string) =>
              fetch(`${url}/api/keyed/quote`, { headers: { 'x-api-key': options.key as string }, signal }),
          },
        ]
      : []),
    // Refused: no payment (402), a key that does not exist (401), an unknown symbol (404, not charged).
    { weight: 1, run: (url) => fetch(`${url}/api/market/BTC`, { signal }) },
    {
      weight: 1,
      run: (url) =>
        fetch(`${url}/api/keyed/quote`, {
          headers: { 'x-api-key': 'x402_test_wrongwrongwrongwrongwrongwrong' },
          signal,
        }),
    },
    { weight: 0.5, run: (url) => pick(payers)(`${url}/api/market/NOPE`, { signal }) },
  ]
  const total = calls.reduce((sum, c) => sum + c.weight, 0)
  const choose = () => {
    let at = Math.random() * total
    for (const call of calls) {
      at -= call.weight
      if (at <= 0) return call
    }
    return calls[0] as Call
  }
  const every = options.everyMs ?? 1_500
  let timer: ReturnType<typeof setTimeout> | undefined
  let inFlight: Promise<unknown> = Promise.resolve()
  const next = () => {
    if (signal.aborted) return
    timer = setTimeout(
      () => {
        inFlight = choose()
          .run(pick(options.apiUrls))
          .then((response) => (response as Response | undefined)?.body?.cancel())
          .catch(() => {})
          .finally(next)
      },
      every * (0.5 + Math.random()),
    )
    timer.unref?.()
  }
  next()
  return {
    async stop() {
      controller.abort()
      if (timer) clearTimeout(timer)
      await inFlight
    },
  }
}
