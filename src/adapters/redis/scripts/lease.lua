--[[ lease: read new entries from ready streams through the consumer group (reading IS the lease: the entry
  enters this consumer's pending list), taking each queue's quota first, then filling what empty queues left
  from the others in the same order. Returns each task's snapshot so the caller can decide without a reread.
  A client at its tier's in-flight limit (count of its entries in pending lists, kept in the in-flight hash)
  gets nothing: its entry is acknowledged, deleted, and parked on the client's list until one of its
  dispatches ends (commit.lua puts one back), so it never blocks the stream for other clients.
  KEYS[i]  ready streams in plan order        td:{p}:ready:<q>
  ARGV[1] consumer group  ARGV[2] consumer  ARGV[3] task key prefix td:{p}:task:
  ARGV[4] client key prefix  ARGV[5] in-flight hash  ARGV[6] parked list prefix  ARGV[7] parked clients set
  ARGV[8] in-flight limits by tier 'free=1,basic=5' ('' = none)  ARGV[8+i] quota of KEYS[i]
  Returns { {key index, entry id, task id, version, history, request, entry's client tag}, ... } and, when
  fewer were found than asked for because every stream is drained, a last element {0, last id of KEYS[1],
  last id of KEYS[2], ...}: an XREAD BLOCK from those ids wakes on the first entry added after this script,
  without a gap. Fewer found without that element means the read limit was reached while parking: the caller
  should lease again at once.                                                                                ]]
local group, consumer, prefix = ARGV[1], ARGV[2], ARGV[3]
local clientPrefix, inflight, parkedPrefix, parkedClients = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local out, exhausted = {}, {}
local wanted, got = 0, 0

local tierLimit = {}
for tier, limit in string.gmatch(ARGV[8], '([^,=]+)=(%d+)') do tierLimit[tier] = tonumber(limit) end
local clientLimit = {}
local function limitOf(client)
  if clientLimit[client] == nil then
    local tier = redis.call('HGET', clientPrefix .. client, 'tier')
    clientLimit[client] = (tier and tierLimit[tier]) or false
  end
  return clientLimit[client]
end

-- true when the entry may go out; otherwise it is parked. Counts it in flight when it goes out.
local function admit(key, entryId, taskId, client)
  if not client or client == '' then return true end
  local limit = limitOf(client)
  if limit and tonumber(redis.call('HGET', inflight, client) or '0') >= limit then
    redis.call('XACK', key, group, entryId)
    redis.call('XDEL', key, entryId)
    redis.call('RPUSH', parkedPrefix .. client, key .. ' ' .. taskId)
    redis.call('SADD', parkedClients, client)
    return false
  end
  redis.call('HINCRBY', inflight, client, 1)
  return true
end

-- entry fields: id <task id> [c <client id>]
-- Parked entries do not count: read again to fill the quota, up to MAX_READS reads per call in all (so a
-- capped client's long backlog costs several calls, not one long script). A stream counts as drained only
-- when a read came back short.
local MAX_READS, reads = 200, 0
local function take(i, count)
  while count > 0 and reads < MAX_READS do
    reads = reads + 1
    local reply = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count, 'STREAMS', KEYS[i], '>')
    local entries = reply and reply[1][2] or {}
    local handed = 0
    for _, entry in ipairs(entries) do
      local taskId = entry[2][2]
      if admit(KEYS[i], entry[1], taskId, entry[2][4]) then
        local snap = redis.call('HMGET', prefix .. taskId, 'v', 'h', 'r')
        out[#out + 1] = { i, entry[1], taskId, snap[1] or '0', snap[2] or '', snap[3] or '', entry[2][4] or '' }
        handed = handed + 1
      end
    end
    got = got + handed
    if #entries < count then
      exhausted[i] = true
      return
    end
    count = count - handed
  end
end

for i = 1, #KEYS do wanted = wanted + tonumber(ARGV[8 + i]) end
for i = 1, #KEYS do
  local quota = tonumber(ARGV[8 + i])
  if quota > 0 then take(i, quota) end
end
for i = 1, #KEYS do
  if got >= wanted then break end
  if not exhausted[i] then take(i, wanted - got) end
end
local drained = true
for i = 1, #KEYS do
  if not exhausted[i] then drained = false end
end
if got < wanted and drained then
  local last = { 0 }
  for i = 1, #KEYS do
    local newest = redis.call('XREVRANGE', KEYS[i], '+', '-', 'COUNT', 1)[1]
    last[#last + 1] = newest and newest[1] or '0-0'
  end
  out[#out + 1] = last
end
return out
