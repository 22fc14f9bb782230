// The three algorithms as Lua, one atomic script per decision. Each mirrors its TypeScript
// twin (slidingWindow.ts, fixedWindow.ts, tokenBucket.ts) line for line; the contract suite
// runs both. Time is Redis's own (`TIME`), so every process sees the same windows. A script
// returns integers only (Redis truncates Lua numbers): { ok, remaining, resetMs, retryAfterMs }.
// ARGV: cost, then the policy's two numbers, then 'take' or 'refund'. KEYS[1]: one hash.

const clock = `
local cost, op = tonumber(ARGV[1]), ARGV[4]
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
`

/** Hash fields: window, current, previous. */
export const slidingWindowLua = `${clock}
local limit, w = tonumber(ARGV[2]), tonumber(ARGV[3])
local window = math.floor(t / w)
local s = redis.call('HMGET', KEYS[1], 'window', 'current', 'previous')
local stored, current, previous = tonumber(s[1]), tonumber(s[2]) or 0, tonumber(s[3]) or 0
if stored == nil or stored < window - 1 then current, previous = 0, 0
elseif stored == window - 1 then previous, current = current, 0
else window = stored end
local untilEnd = w - math.max(0, t - window * w)
local function save()
  if current == 0 and previous == 0 then redis.call('DEL', KEYS[1]) return end
  redis.call('HSET', KEYS[1], 'window', window, 'current', current, 'previous', previous)
  redis.call('PEXPIRE', KEYS[1], untilEnd + w)
end
local function resetMs()
  if current > 0 then return untilEnd + w end
  if previous > 0 then return untilEnd end
  return 0
end
if op == 'refund' then
  local fromCurrent = math.min(cost, current)
  current = current - fromCurrent
  previous = math.max(0, previous - (cost - fromCurrent))
  save()
  return 0
end
local weighted = previous * untilEnd
if cost <= limit and weighted + (current + cost) * w <= limit * w then
  current = current + cost
  save()
  return { 1, math.floor((limit * w - weighted - current * w) / w), resetMs(), 0 }
end
local retry = w
if cost <= limit then
  local room = limit - current - cost
  if room >= 0 and previous > 0 then
    retry = math.ceil((previous * untilEnd - room * w) / previous)
  else
    local into = 0
    if current > 0 then into = math.max(0, math.ceil(((current - limit + cost) * w) / current)) end
    retry = untilEnd + into
  end
end
return { 0, 0, resetMs(), math.max(1, retry) }
`

/** Hash fields: window, used. */
export const fixedWindowLua = `${clock}
local limit, w = tonumber(ARGV[2]), tonumber(ARGV[3])
local window = math.floor(t / w)
local s = redis.call('HMGET', KEYS[1], 'window', 'used')
local stored, used = tonumber(s[1]), tonumber(s[2]) or 0
if stored == nil or stored < window then used = 0 else window = stored end
local untilEnd = (window + 1) * w - math.max(t, window * w)
local function save()
  if used == 0 then redis.call('DEL', KEYS[1]) return end
  redis.call('HSET', KEYS[1], 'window', window, 'used', used)
  redis.call('PEXPIRE', KEYS[1], untilEnd)
end
if op == 'refund' then
  used = math.max(0, used - cost)
  save()
  return 0
end
if cost > limit or used + cost > limit then
  local resetMs, retry = 0, untilEnd
  if used > 0 then resetMs = untilEnd end
  if cost > limit then retry = w end
  return { 0, 0, resetMs, math.max(1, retry) }
end
used = used + cost
save()
return { 1, limit - used, untilEnd, 0 }
`

/** Hash fields: tokens, at (ms). An absent key is a full bucket. */
export const tokenBucketLua = `${clock}
local capacity, rate = tonumber(ARGV[2]), tonumber(ARGV[3])
local epsilon = 1e-9
local s = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(s[1]), tonumber(s[2])
if tokens == nil then
  if op == 'refund' then return 0 end
  tokens, at = capacity, t
else
  tokens = math.min(capacity, tokens + math.max(0, t - at) * rate / 1000)
  at = math.max(t, at)
end
local function msFor(n)
  if n <= epsilon then return 0 end
  return math.ceil(n * 1000 / rate)
end
local function save()
  local ttl = msFor(capacity - tokens)
  if ttl <= 0 then redis.call('DEL', KEYS[1]) return end
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', at)
  redis.call('PEXPIRE', KEYS[1], ttl)
end
if op == 'refund' then
  tokens = math.min(capacity, tokens + cost)
  save()
  return 0
end
if cost > capacity or tokens + epsilon < cost then
  local retry = msFor(capacity)
  if cost <= capacity then retry = msFor(cost - tokens) end
  return { 0, 0, msFor(capacity - tokens), math.max(1, retry) }
end
tokens = math.max(0, tokens - cost)
save()
return { 1, math.floor(tokens + epsilon), msFor(capacity - tokens), 0 }
`
