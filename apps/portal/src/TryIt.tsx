import { useState } from 'preact/hooks'
import { fromBase64Json } from './api'
import { hasWallet, pay, type Requirements } from './wallet'

type Result = { status: number; statusText: string; headers: [string, string][]; body: string; challenge?: Challenge }
type Challenge = { accepts: Requirements[]; resource?: unknown; error?: string }

export type TryTarget = { method: string; path: string }

/** Sends a request to a priced route: without credentials it shows the 402 challenge. */
export function TryIt(props: {
  target: TryTarget
  credential: string
  onCredential(value: string): void
  walletSignedIn: boolean
}) {
  const [method, setMethod] = useState(props.target.method)
  const [path, setPath] = useState(props.target.path)
  const [body, setBody] = useState('')
  const [result, setResult] = useState<Result | undefined>()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
  const [shown, setShown] = useState(props.target)
  if (shown !== props.target) {
    setShown(props.target)
    setMethod(props.target.method)
    setPath(props.target.path)
  }

  const send = async (payment?: string) => {
    setBusy(true)
    setError('')
    try {
      const headers: Record<string, string> = {}
      const credential = props.credential.trim()
      if (credential) headers.authorization = `Bearer ${credential}`
      if (payment) headers['payment-signature'] = payment
      const withBody = body.trim() !== '' && method !== 'GET' && method !== 'HEAD'
      if (withBody) headers['content-type'] = 'application/json'
      const response = await fetch(path, { method, headers, ...(withBody ? { body } : {}) })
      const text = await response.text()
      const challenge =
        response.status === 402
          ? ((fromBase64Json(response.headers.get('payment-required')) as Challenge | undefined) ?? undefined)
          : undefined
      setResult({
        status: response.status,
        statusText: response.statusText,
        headers: [...response.headers.entries()],
        body: pretty(text),
        ...(challenge ? { challenge } : {}),
      })
    } catch (e) {
      setError((e as Error).message)
    } finally {
      setBusy(false)
    }
  }

  const payWithWallet = async () => {
    const option = result?.challenge?.accepts[0]
    if (!option) return
    try {
      await send(await pay(option, result?.challenge?.resource))
    } catch (e) {
      setError((e as Error).message)
    }
  }

  return (
    <section class="card" id="try">
      <h2>Try it</h2>
      <form
        class="try"
        onSubmit={(e) => {
          e.preventDefault()
          void send()
        }}
      >
        <div class="row">
          <select aria-label="method" value={method} onChange={(e) => setMethod(e.currentTarget.value)}>
            {['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
          <input aria-label="path" name="path" value={path} onInput={(e) => setPath(e.currentTarget.value)} />
          <button type="submit" disabled={busy}>
            {busy ? 'Sending…' : 'Send'}
          </button>
        </div>
        <label>
          Credit token or API key (optional)
          <input
            name="credential"
            placeholder="x402c_… or x402_live_…"
            value={props.credential}
            onInput={(e) => props.onCredential(e.currentTarget.value)}
          />
        </label>
        {method !== 'GET' && (
          <label>
            JSON body
            <textarea name="body" rows={3} value={body} onInput={(e) => setBody(e.currentTarget.value)} />
          </label>
        )}
      </form>
      {error && <p class="error">{error}</p>}
      {result && (
        <div class="result" data-status={result.status}>
          <p class={`status s${Math.floor(result.status / 100)}`}>
            <strong>{result.status}</strong> {result.statusText}
          </p>
          {result.challenge && <ChallengeView challenge={result.challenge} />}
          {result.challenge && hasWallet() && props.walletSignedIn && (
            <button type="button" onClick={() => void payWithWallet()}>
              Pay with wallet and retry
            </button>
          )}
          <details>
            <summary>Headers</summary>
            <pre>{result.headers.map(([k, v]) => `${k}: ${v}`).join('\n')}</pre>
          </details>
          <pre class="body">{result.body}</pre>
        </div>
      )}
    </section>
  )
}

function ChallengeView({ challenge }: { challenge: Challenge }) {
  return (
    <div class="challenge">
      <p>Payment required{challenge.error ? ` (${challenge.error})` : ''}. This route accepts:</p>
      <ul>
        {challenge.accepts.map((a) => (
          <li key={`${a.network}${a.asset}`}>
            <code>{a.amount}</code> atomic units of {a.extra?.name ?? a.asset} on {a.network}, to <code>{a.payTo}</code>
          </li>
        ))}
      </ul>
    </div>
  )
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2)
  } catch {
    return text
  }
}
