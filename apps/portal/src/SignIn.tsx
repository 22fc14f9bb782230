import { useState } from 'preact/hooks'
import { api, type Info, type Me } from './api'
import { hasWallet, signIn } from './wallet'

/** Sign in with a browser wallet (SIGN-IN-WITH-X) or an API key. */
export function SignIn(props: { info: Info; onSignedIn(me: Me): void }) {
  const [key, setKey] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const run = async (how: () => Promise<Me>) => {
    setBusy(true)
    setError('')
    try {
      await how()
      props.onSignedIn(await api<Me>('GET', '/me'))
    } catch (e) {
      setError((e as Error).message)
    } finally {
      setBusy(false)
    }
  }
  const withWallet = () =>
    run(async () => {
      const challenge = await api<Parameters<typeof signIn>[0]>('GET', '/siwx')
      return api<Me>('POST', '/session', { siwx: await signIn(challenge) })
    })
  const withKey = () => run(() => api<Me>('POST', '/session', { apiKey: key.trim() }))

  return (
    <section class="card" id="sign-in">
      <h2>Sign in</h2>
      <p class="muted">See your usage, your credit and your keys. Signing in costs nothing.</p>
      <div class="signin">
        <div>
          <button type="button" disabled={busy || !hasWallet()} onClick={() => void withWallet()}>
            Sign in with wallet
          </button>
          {!hasWallet() && <p class="muted small">No browser wallet found: install one, or use an API key.</p>}
        </div>
        {props.info.signIn.apiKey && (
          <form
            onSubmit={(e) => {
              e.preventDefault()
              void withKey()
            }}
          >
            <input
              name="apiKey"
              type="password"
              autocomplete="off"
              placeholder="x402_live_…"
              aria-label="API key"
              value={key}
              onInput={(e) => setKey(e.currentTarget.value)}
            />
            <button type="submit" disabled={busy || !key.trim()}>
              Sign in with API key
            </button>
          </form>
        )}
      </div>
      {error && <p class="error">{error}</p>}
    </section>
  )
}
