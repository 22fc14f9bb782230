import { useState } from 'preact/hooks'
import { signIn } from '../api'

export function SignIn(props: { reason: string | undefined; onDone: () => void }) {
  const [token, setToken] = useState('')
  const [error, setError] = useState<string | undefined>(props.reason)
  const [busy, setBusy] = useState(false)
  return (
    <main class="signin">
      <form
        class="card"
        data-testid="signin"
        onSubmit={async (e) => {
          e.preventDefault()
          setBusy(true)
          const refused = await signIn(token.trim())
          setBusy(false)
          if (refused) setError(refused)
          else {
            history.replaceState(null, '', location.pathname)
            props.onDone()
          }
        }}
      >
        <h1>
          402x <span>dashboard</span>
        </h1>
        <label for="token">Admin token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="current-password"
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          placeholder="X402_ADMIN_TOKEN"
        />
        <button type="submit" disabled={busy || !token.trim()}>
          Sign in
        </button>
        {error && <p class="error">{error}</p>}
        <p class="muted">
          The token is the server’s <code>X402_ADMIN_TOKEN</code> (<code>adminToken</code> in code). Under{' '}
          <code>402x dev</code>, open the link its banner prints: it signs you in.
        </p>
      </form>
    </main>
  )
}
