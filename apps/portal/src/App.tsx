import { useEffect, useState } from 'preact/hooks'
import { Account } from './Account'
import { ApiError, api, type Info, type Me } from './api'
import { examplePath, type PricedRoute, pricedRoutes } from './routes'
import { SignIn } from './SignIn'
import { TryIt, type TryTarget } from './TryIt'

type Doc = {
  info?: { title?: string; description?: string }
  servers?: { url: string }[]
  paths?: Record<string, never>
}

export function App() {
  const [info, setInfo] = useState<Info | undefined>()
  const [doc, setDoc] = useState<Doc | undefined>()
  const [me, setMe] = useState<Me | undefined>()
  const [error, setError] = useState('')
  const [target, setTarget] = useState<TryTarget>({ method: 'GET', path: '/' })
  const [credential, setCredential] = useState('')

  useEffect(() => {
    void (async () => {
      try {
        const [i, d] = await Promise.all([api<Info>('GET', '/info'), api<Doc>('GET', '/openapi.json')])
        setInfo(i)
        setDoc(d)
        const first = pricedRoutes(d)[0]
        if (first) setTarget({ method: first.method, path: prefixOf(d) + examplePath(first.path) })
      } catch (e) {
        setError((e as Error).message)
      }
      try {
        setMe(await api<Me>('GET', '/me'))
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 401)) setError((e as Error).message)
      }
    })()
  }, [])

  const signOut = async () => {
    await api('DELETE', '/session')
    setMe(undefined)
  }
  const routes = doc ? pricedRoutes(doc) : []
  const title = doc?.info?.title ?? 'API'
  return (
    <div class="page">
      <header class="top">
        <div>
          <h1>{title}</h1>
          <p class="muted">Developer portal{info ? ` · ${info.network}` : ''}</p>
        </div>
        {me && (
          <div class="who">
            <span id="signed-in-as">
              {me.kind === 'wallet' ? short(me.address ?? '') : `key ${me.key?.name ?? me.keyId}`}
            </span>
            <button type="button" class="link" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        )}
      </header>
      {error && <p class="error">{error}</p>}
      <section class="card" id="routes">
        <h2>Priced routes</h2>
        {doc && routes.length === 0 && <p class="muted">This API lists no priced routes yet.</p>}
        {routes.length > 0 && (
          <table>
            <thead>
              <tr>
                <th>Route</th>
                <th class="num">Price</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {routes.map((r: PricedRoute) => (
                <tr key={`${r.method} ${r.path}`} class="route">
                  <td>
                    <code>
                      <span class={`method m-${r.method.toLowerCase()}`}>{r.method}</span> {r.path}
                    </code>
                    {r.summary && <div class="muted small">{r.summary}</div>}
                  </td>
                  <td class="num price">{r.price}</td>
                  <td>
                    <button
                      type="button"
                      class="link"
                      onClick={() => {
                        setTarget({ method: r.method, path: prefixOf(doc) + examplePath(r.path) })
                        document.getElementById('try')?.scrollIntoView({ behavior: 'smooth' })
                      }}
                    >
                      Try
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <TryIt
        target={target}
        credential={credential}
        onCredential={setCredential}
        walletSignedIn={me?.kind === 'wallet'}
      />
      {info && !me && <SignIn info={info} onSignedIn={setMe} />}
      {info && me && <Account info={info} me={me} onToken={setCredential} />}
      <footer class="muted small">
        Paid per request with x402 (USDC). Machine-readable:{' '}
        <a href="/__402x/portal/api/openapi.json">OpenAPI document</a>.
      </footer>
    </div>
  )
}

/** The document's base path on this origin (`servers: [{ url: 'https://api.example.com/v1' }]` → `/v1`). */
function prefixOf(doc: Doc | undefined): string {
  const url = doc?.servers?.[0]?.url
  if (!url) return ''
  try {
    const parsed = new URL(url, location.href)
    return parsed.origin === location.origin ? parsed.pathname.replace(/\/$/, '') : ''
  } catch {
    return ''
  }
}

const short = (address: string) => `${address.slice(0, 6)}…${address.slice(-4)}`
