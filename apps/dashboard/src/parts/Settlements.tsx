import { type Stats, short, usd } from '../api'
import type { LivePayment } from '../useLive'
import { Empty, payCommand } from './Empty'

const explorers: Record<string, string> = {
  'eip155:8453': 'https://basescan.org/tx/',
  'eip155:84532': 'https://sepolia.basescan.org/tx/',
}

function Tx(props: { hash: string | null | undefined; url?: string | null; network?: string }) {
  if (!props.hash) return <span class="muted">no transaction</span>
  const url =
    props.url ?? (props.network ? explorers[props.network] && `${explorers[props.network]}${props.hash}` : undefined)
  return url ? (
    <a href={url} target="_blank" rel="noreferrer noopener" class="mono">
      {short(props.hash)}
    </a>
  ) : (
    <span class="mono" title="local chain: no explorer">
      {props.hash}
    </span>
  )
}

export function Settlements(props: { stats: Stats; fresh: LivePayment[] }) {
  const { settlements } = props.stats
  const known = new Set(settlements.recent.map((s) => s.id))
  const fresh = props.fresh.filter((p) => !known.has(p.id))
  const none = settlements.recent.length === 0 && fresh.length === 0
  return (
    <section class="card">
      <h2>Settlements</h2>
      <div class="states">
        <span class="state settled">
          settled <b data-testid="settled">{settlements.settled}</b>
        </span>
        <span class="state pending">
          pending <b data-testid="pending">{settlements.pending}</b>
        </span>
        <span class="state failed">
          failed <b data-testid="failed">{settlements.failed}</b>
        </span>
      </div>
      {none ? (
        <Empty command={payCommand()}>No paid requests yet: run</Empty>
      ) : (
        <ul class="list" data-testid="settlements">
          {fresh.map((p) => (
            <li key={p.id} data-testid="settlement" data-id={p.id} class="fresh">
              <span class={`pill ${p.state}`}>{p.state}</span>
              <span class="num">{p.amount ? usd(p.amount) : ''}</span>
              <span class="mono">{short(p.payer)}</span>
              <Tx hash={p.transaction} {...(p.network ? { network: p.network } : {})} />
            </li>
          ))}
          {settlements.recent.map((s) => (
            <li key={s.id} data-testid="settlement" data-id={s.id}>
              <span class={`pill ${s.state}`}>{s.state}</span>
              <span class="num">{usd(s.amount)}</span>
              <span class="mono">{short(s.payer)}</span>
              <Tx hash={s.transaction} url={s.explorerUrl} network={s.network} />
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
