import { type LiveRequest, ms, short, usd } from '../api'
import { Empty, payCommand } from './Empty'

const who = (r: LiveRequest) => r.keyId ?? r.account ?? r.payer ?? ''

export function LiveFeed(props: { requests: LiveRequest[] }) {
  return (
    <section class="card">
      <h2>Live requests</h2>
      {props.requests.length === 0 ? (
        <Empty command={payCommand()}>Waiting for requests: they appear here as they happen. Send one with</Empty>
      ) : (
        <ul class="list feed" data-testid="live-feed">
          {props.requests.map((r) => (
            <li key={r.requestId} data-testid="live-request" data-outcome={r.outcome}>
              <span class="muted">{new Date(r.at).toLocaleTimeString()}</span>
              <span class={`pill ${r.outcome}`}>{r.outcome}</span>
              <span class="mono">{r.status}</span>
              <span class="mono grow">
                {r.method} {r.route}
              </span>
              <span class="mono">{short(who(r))}</span>
              <span class="num">{Number(r.amount) ? usd(r.amount) : (r.reason ?? '')}</span>
              <span class="num muted">{ms(r.durationMs)}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
