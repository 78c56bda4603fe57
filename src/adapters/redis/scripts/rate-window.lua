--[[ rate-window: take room for n tasks in a client's sliding-window log, all or nothing.
  KEYS[1] the client's window (zset: task id → accepted at, ms)  td:{p}:rate:<client>
  ARGV[1] limit (tasks per window)  ARGV[2] window (ms)  ARGV[3] now (ms), '' = Redis TIME, so that every API
  process counts on one clock  ARGV[4..] the task ids to add, one per task
  Entries older than the window are dropped first. The ids are added only if all of them fit; a refusal writes
  nothing but that cleanup.
  Returns {1, remaining, ms until the oldest entry leaves the window}
        | {0, remaining, ms until enough entries left for the n tasks to fit, or -1 when n exceeds the limit} ]]
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local n = #ARGV - 3
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])

if count + n > limit then
  local remaining = math.max(limit - count, 0)
  if n > limit then return { 0, remaining, -1 } end
  -- the (count + n - limit)-th oldest entry must leave before n more fit
  local oldest = redis.call('ZRANGE', KEYS[1], count + n - limit - 1, count + n - limit - 1, 'WITHSCORES')
  return { 0, remaining, tonumber(oldest[2]) + window - now }
end

local batch = {}
for i = 4, #ARGV do
  batch[#batch + 1] = now
  batch[#batch + 1] = ARGV[i]
  if #batch >= 1000 then
    redis.call('ZADD', KEYS[1], unpack(batch))
    batch = {}
  end
end
if #batch > 0 then redis.call('ZADD', KEYS[1], unpack(batch)) end
redis.call('PEXPIRE', KEYS[1], window)
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return { 1, limit - count - n, tonumber(first[2]) + window - now }
