/**
 * The Lua scripts behind RedisCounters. Each runs atomically in Redis, so one script per reserve is the
 * whole cross-replica critical section. Amounts are integer micro-dollars; numbers that Redis must store
 * are passed through as the client's strings (Lua's %.14g would print large integers as 1e+14).
 *
 * Key layout under a prefix P (bucket = "scope+period" key from the budget service):
 *   P:b:{bucket}  hash   su, st (spent µ$, tokens), ru, rt (reserved), r:{id} = "µ$ tokens" per live hold
 *   P:z:{bucket}  zset   reservation id -> hold expiry (ms); expired holds are pruned inside every script
 *   P:res:{id}    hash   keys (buckets, "\n"-joined), done = 1 once settled or released (remembered a day)
 *   P:v:{scope}   hash   minute index -> µ$ spent in that minute (the last 61 minutes kept)
 *   P:brake:{scope} string  epoch ms the emergency brake lifts at, with a matching PX
 */

const PRUNE = `
-- Redis refuses "-0" as an integer, so zero amounts are skipped rather than negated.
local function unhold(b, micro, tokens)
  if micro ~= '0' then redis.call('HINCRBY', b, 'ru', '-' .. micro) end
  if tokens ~= '0' then redis.call('HINCRBY', b, 'rt', '-' .. tokens) end
end
local function prune(b, z, now)
  local ids = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  if #ids == 0 then return end
  for _, rid in ipairs(ids) do
    local v = redis.call('HGET', b, 'r:' .. rid)
    if v then
      local sp = string.find(v, ' ', 1, true)
      unhold(b, string.sub(v, 1, sp - 1), string.sub(v, sp + 1))
      redis.call('HDEL', b, 'r:' .. rid)
    end
  end
  redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
end
local function keepAlive(k, ms)
  if ms == '-1' then return end
  if redis.call('PTTL', k) < tonumber(ms) then redis.call('PEXPIRE', k, ms) end
end
`;

/**
 * KEYS: n bucket hashes, n expiry zsets, the reservation record, then brake keys.
 * ARGV: now, ttlMs, id, n, rememberMs, then per charge: µ$, tokens, limit µ$ (-1), limit tokens (-1), hard (1|0), keepMs (-1).
 * Returns {1, su, ru, st, rt per charge} | {0, index, dimension (1 usd, 2 tokens), su, ru, st, rt} | {2, brake index, until}.
 */
export const RESERVE_LUA = `${PRUNE}
local now = tonumber(ARGV[1])
local id = ARGV[3]
local n = tonumber(ARGV[4])
for i = 2 * n + 2, #KEYS do
  local untilMs = tonumber(redis.call('GET', KEYS[i]) or '0')
  if untilMs > now then return {2, i - 2 * n - 1, untilMs} end
end
local st = {}
for i = 1, n do
  local b = KEYS[i]
  prune(b, KEYS[n + i], now)
  local h = redis.call('HMGET', b, 'su', 'ru', 'st', 'rt')
  local s = {tonumber(h[1] or '0'), tonumber(h[2] or '0'), tonumber(h[3] or '0'), tonumber(h[4] or '0')}
  st[i] = s
  local o = 5 + (i - 1) * 6
  if ARGV[o + 5] == '1' then
    local lu = tonumber(ARGV[o + 3])
    local lt = tonumber(ARGV[o + 4])
    if lu >= 0 and s[1] + s[2] + tonumber(ARGV[o + 1]) > lu then return {0, i, 1, s[1], s[2], s[3], s[4]} end
    if lt >= 0 and s[3] + s[4] + tonumber(ARGV[o + 2]) > lt then return {0, i, 2, s[1], s[2], s[3], s[4]} end
  end
end
local expiry = now + tonumber(ARGV[2])
local out = {1}
local keys = {}
for i = 1, n do
  local b = KEYS[i]
  local z = KEYS[n + i]
  local o = 5 + (i - 1) * 6
  local ru = redis.call('HINCRBY', b, 'ru', ARGV[o + 1])
  local rt = redis.call('HINCRBY', b, 'rt', ARGV[o + 2])
  redis.call('HSET', b, 'r:' .. id, ARGV[o + 1] .. ' ' .. ARGV[o + 2])
  redis.call('ZADD', z, expiry, id)
  keepAlive(b, ARGV[o + 6])
  keepAlive(z, ARGV[o + 6])
  local s = st[i]
  out[#out + 1] = s[1]
  out[#out + 1] = ru
  out[#out + 1] = s[3]
  out[#out + 1] = rt
end
local rec = KEYS[2 * n + 1]
redis.call('HSET', rec, 'keys', ARGV[#ARGV])
redis.call('PEXPIRE', rec, ARGV[5])
return out
`;

/**
 * KEYS: the reservation record, n bucket hashes, n expiry zsets (of the actual charges).
 * ARGV: id, prefix, rememberMs, n, then per actual charge: µ$, tokens, keepMs (-1).
 * Returns 1 when applied, 0 when the reservation was already settled or released.
 */
export const SETTLE_LUA = `${PRUNE}
local rec = KEYS[1]
local id = ARGV[1]
local prefix = ARGV[2]
local n = tonumber(ARGV[4])
if redis.call('HGET', rec, 'done') then return 0 end
local function drop(b, z)
  local v = redis.call('HGET', b, 'r:' .. id)
  if v then
    local sp = string.find(v, ' ', 1, true)
    unhold(b, string.sub(v, 1, sp - 1), string.sub(v, sp + 1))
    redis.call('HDEL', b, 'r:' .. id)
  end
  redis.call('ZREM', z, id)
end
local keys = redis.call('HGET', rec, 'keys')
if keys then
  for k in string.gmatch(keys, '[^\\n]+') do drop(prefix .. ':b:' .. k, prefix .. ':z:' .. k) end
end
for i = 1, n do
  local b = KEYS[1 + i]
  drop(b, KEYS[1 + n + i])
  local o = 4 + (i - 1) * 3
  redis.call('HINCRBY', b, 'su', ARGV[o + 1])
  redis.call('HINCRBY', b, 'st', ARGV[o + 2])
  keepAlive(b, ARGV[o + 3])
end
redis.call('HSET', rec, 'done', '1')
redis.call('PEXPIRE', rec, ARGV[3])
return 1
`;

/** KEYS: n bucket hashes, n expiry zsets. ARGV: now. Returns su, ru, st, rt per bucket after pruning. */
export const READ_LUA = `${PRUNE}
local now = tonumber(ARGV[1])
local n = #KEYS / 2
local out = {}
for i = 1, n do
  prune(KEYS[i], KEYS[n + i], now)
  local h = redis.call('HMGET', KEYS[i], 'su', 'ru', 'st', 'rt')
  for j = 1, 4 do out[#out + 1] = tonumber(h[j] or '0') end
end
return out
`;

/**
 * KEYS: velocity hashes. ARGV: minute index, µ$ to add ("0" to only read).
 * Returns per key the current minute's µ$, the 60 previous minutes' µ$, and how many minutes back the oldest
 * spend in that window lies (0 without any); older minutes are deleted.
 */
export const VELOCITY_LUA = `
local minute = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local k = KEYS[i]
  if ARGV[2] ~= '0' then
    redis.call('HINCRBY', k, ARGV[1], ARGV[2])
    redis.call('PEXPIRE', k, 7320000)
  end
  local h = redis.call('HGETALL', k)
  local last, hour, oldest = 0, 0, minute
  for j = 1, #h, 2 do
    local m = tonumber(h[j])
    local v = tonumber(h[j + 1])
    if m == minute then last = last + v
    elseif m >= minute - 60 and m < minute then
      hour = hour + v
      if m < oldest then oldest = m end
    elseif m < minute - 60 and ARGV[2] ~= '0' then redis.call('HDEL', k, h[j]) end
  end
  out[#out + 1] = last
  out[#out + 1] = hour
  out[#out + 1] = minute - oldest
end
return out
`;
