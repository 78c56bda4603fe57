--[[ commit: append decided events to tasks and move each task between ready/due/leased, one task at a time,
  each all-or-nothing. Every task is checked against the version its events were decided on, and optionally
  against the lease (its ready-stream entry must be pending for this consumer).
  KEYS[1] all-events stream  td:{p}:events        KEYS[2] due zset  td:{p}:due
  KEYS[1+2i] task hash       td:{p}:task:<id>     KEYS[2+2i] ready stream of the task's queue  td:{p}:ready:<q>
  ARGV[1] consumer group  ARGV[2] consumer  ARGV[3] wake channel  ARGV[4] n = number of tasks
  ARGV[5] in-flight hash  ARGV[6] parked list prefix  ARGV[7] parked clients set
  then 12 ARGV per task: taskId, expected version, events (JSON lines joined by \n, '' = none), event count,
    request JSON ('' = keep), entry id, fence (1 = entry must be leased by this consumer), ack (1 = XACK+XDEL
    the entry), ready (1 = XADD to the ready stream), due ('' = leave, '-' = ZREM, <ms> = ZADD), client id,
    the acked entry's client tag as lease.lua or reclaim.lua returned it ('' = untagged)
  An acknowledged entry leaves its client's in-flight count (lease.lua counted it by the same tag) and puts one
  of the client's parked tasks back on its ready stream.
  Returns one reply per task: 'OK' | 'CONFLICT:<current version>' | 'LEASE_LOST'                          ]]
local group, consumer, wake = ARGV[1], ARGV[2], ARGV[3]
local n = tonumber(ARGV[4])
local inflight, parkedPrefix, parkedClients = ARGV[5], ARGV[6], ARGV[7]
local results = {}

local function addReady(readyKey, taskId, client)
  if client == '' then
    redis.call('XADD', readyKey, '*', 'id', taskId)
  else
    redis.call('XADD', readyKey, '*', 'id', taskId, 'c', client)
  end
end

-- counted only when the entry really left the pending list, so a repeated ack cannot count twice
local function ackEntry(readyKey, entry, client)
  local acked = redis.call('XACK', readyKey, group, entry)
  redis.call('XDEL', readyKey, entry)
  if acked == 0 or client == '' then return end
  if redis.call('HINCRBY', inflight, client, -1) <= 0 then redis.call('HDEL', inflight, client) end
  local parked = redis.call('LPOP', parkedPrefix .. client)
  if not parked then return end
  local space = string.find(parked, ' ', 1, true)
  addReady(string.sub(parked, 1, space - 1), string.sub(parked, space + 1), client)
  -- the set lists clients with parked tasks: only a pop can have emptied the list (lease parks with both)
  if redis.call('LLEN', parkedPrefix .. client) == 0 then redis.call('SREM', parkedClients, client) end
end

-- a missing stream or group is a lost lease for this task, not an error that would abort the whole batch
local function holds(readyKey, entry)
  local ok, pending = pcall(redis.call, 'XPENDING', readyKey, group, entry, entry, 1, consumer)
  return ok and #pending > 0
end
for i = 1, n do
  local a = 7 + (i - 1) * 12
  local taskKey, readyKey = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  local taskId, expected = ARGV[a + 1], tonumber(ARGV[a + 2])
  local events, count, request = ARGV[a + 3], tonumber(ARGV[a + 4]), ARGV[a + 5]
  local entry, fence, ack, ready, due = ARGV[a + 6], ARGV[a + 7], ARGV[a + 8], ARGV[a + 9], ARGV[a + 10]
  local client, entryClient = ARGV[a + 11], ARGV[a + 12]
  -- the history comes in the same read when events are to be appended to it
  local current, stored
  if count > 0 then
    local vh = redis.call('HMGET', taskKey, 'v', 'h')
    current, stored = tonumber(vh[1] or '0'), vh[2]
  else
    current = tonumber(redis.call('HGET', taskKey, 'v') or '0')
  end
  if current ~= expected then
    results[i] = 'CONFLICT:' .. current
  elseif fence == '1' and not holds(readyKey, entry) then
    results[i] = 'LEASE_LOST'
  else
    if count > 0 then
      local history = events
      if stored then history = stored .. '\n' .. events end
      if request ~= '' then
        redis.call('HSET', taskKey, 'v', current + count, 'h', history, 'r', request)
      else
        redis.call('HSET', taskKey, 'v', current + count, 'h', history)
      end
      for line in string.gmatch(events, '[^\n]+') do
        redis.call('XADD', KEYS[1], '*', 'id', taskId, 'e', line)
      end
    elseif request ~= '' then
      redis.call('HSET', taskKey, 'r', request)
    end
    if ack == '1' then ackEntry(readyKey, entry, entryClient) end
    if due == '-' then
      redis.call('ZREM', KEYS[2], taskId)
    elseif due ~= '' then
      redis.call('ZADD', KEYS[2], due, taskId)
      -- wake sleeping promoters only when this task is now the earliest due
      if redis.call('ZRANGE', KEYS[2], 0, 0)[1] == taskId then redis.call('PUBLISH', wake, due) end
    end
    if ready == '1' then addReady(readyKey, taskId, client) end
    results[i] = 'OK'
  end
end
return results
