import type { SchemaComponent } from '../postgres/migrate.js'

// The three algorithms as one PL/pgSQL function, one call (one round trip) per decision. It
// mirrors the Lua of redisScripts.ts line for line, in float8 as Lua counts; the contract
// suite runs both. It locks the key's row (made on the key's first take), reads the time of
// the database (`clock_timestamp()`, once the lock is held) and saves or deletes the state.
// A state past `expires_at` is read as none, as Redis forgets an expired key.
// Args: key, policy shape ('sw:<w>', 'fw:<w>', 'tb'), 'take' or 'refund', cost, then the
// policy's two numbers (limit and windowMs, or capacity and refillPerSecond).
// Returns { ok, remaining, resetMs, retryAfterMs } for a take, { 0 } for a refund.
const decide = `
create function x402_rate_limit(p_key text, p_policy text, p_op text, p_cost float8, p_a float8, p_b float8)
returns float8[] language plpgsql as $fn$
declare
  st float8[]; until_at bigint; t float8; eps float8 := 1e-9;
  cost float8 := p_cost; lim float8; w float8; win float8; cur float8; prev float8;
  until_end float8; weighted float8; retry float8; room float8; into_next float8; reset_ms float8;
  used float8; cap float8; rate float8; tokens float8; at_ms float8;
  keep boolean; ttl float8; result float8[];
begin
  select state, expires_at into st, until_at from x402_rate_limits
    where key = p_key and policy = p_policy for update;
  if not found then
    if p_op = 'refund' then return array[0]; end if;
    insert into x402_rate_limits as r (key, policy, state, expires_at) values (p_key, p_policy, null, 0)
      on conflict (key, policy) do update set expires_at = r.expires_at
      returning r.state, r.expires_at into st, until_at;
  end if;
  t := floor(extract(epoch from clock_timestamp()) * 1000);
  if until_at <= t then st := null; end if;

  if p_policy = 'tb' then
    cap := p_a; rate := p_b;
    if st is null then
      if p_op = 'refund' then return array[0]; end if;
      tokens := cap; at_ms := t;
    else
      tokens := least(cap, st[1] + greatest(0, t - st[2]) * rate / 1000);
      at_ms := greatest(t, st[2]);
    end if;
    if p_op = 'refund' then
      tokens := least(cap, tokens + cost);
      result := array[0];
    elsif cost > cap or tokens + eps < cost then
      if cost <= cap then retry := ceil((cost - tokens) * 1000 / rate); else retry := ceil(cap * 1000 / rate); end if;
      if cap - tokens <= eps then reset_ms := 0; else reset_ms := ceil((cap - tokens) * 1000 / rate); end if;
      return array[0, 0, reset_ms, greatest(1, retry)];
    else
      tokens := greatest(0, tokens - cost);
      result := array[1, floor(tokens + eps), 0, 0];
    end if;
    if cap - tokens <= eps then ttl := 0; else ttl := ceil((cap - tokens) * 1000 / rate); end if;
    if p_op = 'take' then result[3] := ttl; end if;
    keep := ttl > 0; st := array[tokens, at_ms];

  elsif left(p_policy, 3) = 'fw:' then
    lim := p_a; w := p_b; win := floor(t / w);
    if st is null or st[1] < win then used := 0; else win := st[1]; used := st[2]; end if;
    until_end := (win + 1) * w - greatest(t, win * w);
    if p_op = 'refund' then
      used := greatest(0, used - cost);
      result := array[0];
    elsif cost > lim or used + cost > lim then
      if used > 0 then reset_ms := until_end; else reset_ms := 0; end if;
      if cost > lim then retry := w; else retry := until_end; end if;
      return array[0, 0, reset_ms, greatest(1, retry)];
    else
      used := used + cost;
      result := array[1, lim - used, until_end, 0];
    end if;
    keep := used > 0; ttl := until_end; st := array[win, used];

  else
    lim := p_a; w := p_b; win := floor(t / w);
    if st is null or st[1] < win - 1 then cur := 0; prev := 0;
    elsif st[1] = win - 1 then prev := st[2]; cur := 0;
    else win := st[1]; cur := st[2]; prev := st[3];
    end if;
    until_end := w - greatest(0, t - win * w);
    if p_op = 'refund' then
      room := least(cost, cur); -- the part of the refund the current window gives back
      cur := cur - room;
      prev := greatest(0, prev - (cost - room));
      result := array[0];
    else
      weighted := prev * until_end;
      if cost <= lim and weighted + (cur + cost) * w <= lim * w then
        cur := cur + cost;
        result := array[1, floor((lim * w - weighted - cur * w) / w), 0, 0];
      else
        retry := w;
        if cost <= lim then
          room := lim - cur - cost;
          if room >= 0 and prev > 0 then
            retry := ceil((prev * until_end - room * w) / prev);
          else
            into_next := 0;
            if cur > 0 then into_next := greatest(0, ceil(((cur - lim + cost) * w) / cur)); end if;
            retry := until_end + into_next;
          end if;
        end if;
        if cur > 0 then reset_ms := until_end + w; elsif prev > 0 then reset_ms := until_end; else reset_ms := 0; end if;
        return array[0, 0, reset_ms, greatest(1, retry)];
      end if;
      if cur > 0 then result[3] := until_end + w; elsif prev > 0 then result[3] := until_end; else result[3] := 0; end if;
    end if;
    keep := cur <> 0 or prev <> 0; ttl := until_end + w; st := array[win, cur, prev];
  end if;

  if keep then
    update x402_rate_limits set state = st, expires_at = (t + ttl)::bigint where key = p_key and policy = p_policy;
  else
    delete from x402_rate_limits where key = p_key and policy = p_policy;
  end if;
  return result;
end
$fn$`

/**
 * The rate-limit store's table and its one function: a row per key and policy shape
 * (`sw:<windowMs>`, `fw:<windowMs>`, `tb`), the algorithm's state as numbers and when it is
 * worth nothing (ms epoch, on the database's clock). Unlogged: a decision waits for no WAL
 * flush (a quarter of the time, measured), and what is lost is only counts, which start
 * afresh after PostgreSQL crashes or fails over (unlogged tables are emptied there). No
 * index on `expires_at`: the prune is rare and bounded, and without one each update is HOT.
 */
export const rateLimitSchema: SchemaComponent = {
  component: 'ratelimit',
  migrations: [
    {
      version: 1,
      name: 'create x402_rate_limits',
      sql: `create unlogged table x402_rate_limits (
        key text not null,
        policy text not null,
        state float8[],
        expires_at bigint not null,
        primary key (key, policy)
      )`,
    },
    { version: 2, name: 'create x402_rate_limit()', sql: decide },
  ],
}
