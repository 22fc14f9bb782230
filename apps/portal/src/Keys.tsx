import { useCallback, useEffect, useState } from 'preact/hooks'
import { api, type Info, type KeyInfo, type Plan } from './api'

/** The caller's own API keys: listed, created on the plans the seller allows, revoked. */
export function Keys(props: { info: Info }) {
  const [keys, setKeys] = useState<KeyInfo[]>([])
  const [plans, setPlans] = useState<Plan[]>([])
  const [name, setName] = useState('')
  const [plan, setPlan] = useState(props.info.selfServicePlans[0]?.name ?? '')
  const [created, setCreated] = useState('')
  const [error, setError] = useState('')
  const load = useCallback(async () => {
    try {
      const answer = await api<{ keys: KeyInfo[]; plans: Plan[] }>('GET', '/keys')
      setKeys(answer.keys)
      setPlans(answer.plans)
    } catch (e) {
      setError((e as Error).message)
    }
  }, [])
  useEffect(() => {
    void load()
  }, [load])
  const create = async () => {
    setError('')
    try {
      const answer = await api<{ key: string }>('POST', '/keys', { name: name.trim(), plan })
      setCreated(answer.key)
      setName('')
      await load()
    } catch (e) {
      setError((e as Error).message)
    }
  }
  const revoke = async (id: string) => {
    setError('')
    try {
      await api('DELETE', `/keys/${encodeURIComponent(id)}`)
      await load()
    } catch (e) {
      setError((e as Error).message)
    }
  }
  return (
    <section class="card" id="keys">
      <h2>API keys</h2>
      {keys.length === 0 ? (
        <p class="muted">No keys yet{plans.length > 0 ? ': create one below.' : '.'}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Key</th>
              <th>Plan</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td>
                  <code>{k.start}…</code>
                </td>
                <td>{k.plan}</td>
                <td>{k.state}</td>
                <td>
                  {k.state === 'active' && (
                    <button type="button" class="link" onClick={() => void revoke(k.id)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {plans.length > 0 ? (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault()
            void create()
          }}
        >
          <input
            class="grow"
            name="keyName"
            aria-label="key name"
            placeholder="Key name, e.g. my app"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
          <select aria-label="plan" value={plan} onChange={(e) => setPlan(e.currentTarget.value)}>
            {plans.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
                {p.quota.month
                  ? ` (${p.quota.month.toLocaleString()}/month)`
                  : p.quota.day
                    ? ` (${p.quota.day}/day)`
                    : ''}
              </option>
            ))}
          </select>
          <button type="submit" disabled={!name.trim()}>
            Create key
          </button>
        </form>
      ) : (
        <p class="muted small">Keys on this API are issued by its operator.</p>
      )}
      {created && (
        <p class="small">
          Your new key (shown once, copy it now): <code class="secret">{created}</code>
        </p>
      )}
      {error && <p class="error">{error}</p>}
    </section>
  )
}
