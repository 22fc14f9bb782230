import { useCallback, useEffect, useState } from 'preact/hooks'
import { api, type Credits, fromBase64Json, type Info, type Me, type Usage } from './api'
import { Keys } from './Keys'
import { hasWallet, pay, type Requirements } from './wallet'

/** The signed-in caller's own usage, credit (with a top-up) and keys. */
export function Account(props: { info: Info; me: Me; onToken(token: string): void }) {
  const [usage, setUsage] = useState<Usage | undefined>()
  const [credits, setCredits] = useState<Credits | undefined>()
  const [error, setError] = useState('')
  const sellsCredit = Boolean(props.info.credits)
  const load = useCallback(async () => {
    try {
      setUsage(await api<Usage>('GET', '/usage'))
      if (sellsCredit) setCredits(await api<Credits>('GET', '/credits'))
    } catch (e) {
      setError((e as Error).message)
    }
  }, [sellsCredit])
  useEffect(() => {
    void load()
  }, [load])

  return (
    <>
      {error && <p class="error">{error}</p>}
      <section class="card" id="usage">
        <h2>Usage this month</h2>
        {!usage ? <p class="muted">Loading…</p> : <UsageView usage={usage} />}
      </section>
      {props.info.credits && (
        <section class="card" id="credit">
          <h2>Credit</h2>
          {credits ? (
            <CreditView credits={credits} info={props.info} onToken={props.onToken} onChange={load} />
          ) : (
            <p class="muted">Loading…</p>
          )}
        </section>
      )}
      {props.info.signIn.apiKey && <Keys info={props.info} />}
    </>
  )
}

function UsageView({ usage }: { usage: Usage }) {
  const calls = usage.keys.reduce((n, k) => n + k.calls, 0)
  return (
    <div>
      <div class="figures">
        <Figure label="Calls with your keys" value={String(calls)} id="usage-calls" />
        {usage.payments && <Figure label="Payments from your wallet" value={String(usage.payments.count)} />}
        {usage.payments && <Figure label="Paid" value={`$${usage.payments.amount}`} />}
      </div>
      {usage.keys.length === 0 && !usage.payments?.recent.length && (
        <p class="muted">No calls yet: try a route above, or create a key below.</p>
      )}
      {usage.keys.some((k) => k.calls > 0) && (
        <table>
          <thead>
            <tr>
              <th>Key</th>
              <th>Route</th>
              <th class="num">Calls</th>
              <th class="num">Charged</th>
            </tr>
          </thead>
          <tbody>
            {usage.keys.flatMap((k) =>
              k.routes.map((r) => (
                <tr key={`${k.id}${r.route}`}>
                  <td>{k.name}</td>
                  <td>
                    <code>{r.route}</code>
                  </td>
                  <td class="num">{r.calls}</td>
                  <td class="num">${r.amount}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      )}
      {usage.payments && usage.payments.recent.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>When</th>
              <th>Resource</th>
              <th class="num">Amount</th>
              <th>State</th>
            </tr>
          </thead>
          <tbody>
            {usage.payments.recent.map((p) => (
              <tr key={p.id}>
                <td>{new Date(p.at).toLocaleString()}</td>
                <td>
                  <code>
                    {p.method} {new URL(p.resource).pathname}
                  </code>
                </td>
                <td class="num">${p.amount}</td>
                <td>{p.state}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}

function CreditView(props: { credits: Credits; info: Info; onToken(token: string): void; onChange(): Promise<void> }) {
  const { credits } = props
  const [amount, setAmount] = useState(credits.offer.suggested)
  const [status, setStatus] = useState('')
  const [token, setToken] = useState('')
  const topUp = async () => {
    setStatus('Getting a credit token for your account…')
    try {
      const issued = await api<{ token: string }>('POST', '/credits/token')
      const url = `${credits.offer.topUp}?amount=${encodeURIComponent(amount)}`
      const auth = { authorization: `Bearer ${issued.token}` }
      const challenge = await fetch(url, { method: 'POST', headers: auth })
      if (challenge.status !== 402)
        throw new Error(`the top-up answered ${challenge.status}: ${await challenge.text()}`)
      const required = fromBase64Json(challenge.headers.get('payment-required')) as
        | { accepts: Requirements[]; resource?: unknown }
        | undefined
      const option = required?.accepts.find((a) => a.network === props.info.network) ?? required?.accepts[0]
      if (!option) throw new Error('the top-up offered no way to pay')
      setStatus('Sign the payment in your wallet…')
      const payment = await pay(option, required?.resource)
      setStatus('Paying…')
      const paid = await fetch(url, { method: 'POST', headers: { ...auth, 'payment-signature': payment } })
      const body = (await paid.json()) as { credited?: string; message?: string }
      if (!paid.ok) throw new Error(body.message ?? `the top-up answered ${paid.status}`)
      setToken(issued.token)
      props.onToken(issued.token)
      setStatus(`Added $${body.credited ?? amount}.`)
      await props.onChange()
    } catch (e) {
      setStatus(`Top-up failed: ${(e as Error).message}`)
    }
  }
  return (
    <div>
      <div class="figures">
        <Figure label="Available" value={`$${credits.balance.available}`} id="credit-balance" />
        <Figure label="Reserved" value={`$${credits.balance.reserved}`} />
      </div>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault()
          void topUp()
        }}
      >
        <label class="grow">
          Top up (${credits.offer.minTopUp} to ${credits.offer.maxTopUp})
          <input name="amount" inputMode="decimal" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={!hasWallet()}>
          Top up with wallet
        </button>
      </form>
      {!hasWallet() && <p class="muted small">A top-up is paid from a browser wallet.</p>}
      {status && <p class="status-line">{status}</p>}
      {token && (
        <p class="small">
          Your credit token (shown once, also set in Try it): <code class="secret">{token}</code>
        </p>
      )}
      <h3>Statement</h3>
      {credits.entries.length === 0 ? (
        <p class="muted">No entries yet: top up to buy credit, then spend it with the token.</p>
      ) : (
        <table>
          <tbody>
            {credits.entries.map((e) => (
              <tr key={e.id}>
                <td>{new Date(e.at).toLocaleString()}</td>
                <td>{kinds[e.kind] ?? e.kind}</td>
                <td class={`num ${e.direction}`}>
                  {e.direction === 'out' ? '−' : '+'}${e.amount}
                </td>
                <td class="muted">{e.note ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}

/** The statement's words for the ledger's kinds of entry. */
const kinds: Record<string, string> = {
  top_up: 'Top-up',
  grant: 'Grant',
  reserve: 'Reserved',
  capture: 'Charge',
  release: 'Released',
  expire: 'Expired',
  charge: 'Charges',
  refund: 'Refund',
  payout: 'Payout',
}

function Figure(props: { label: string; value: string; id?: string }) {
  return (
    <div class="figure">
      <span class="label">{props.label}</span>
      <span class="value" {...(props.id ? { id: props.id } : {})}>
        {props.value}
      </span>
    </div>
  )
}
