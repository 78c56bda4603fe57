--[[ lease: read new entries from ready streams through the consumer group (reading IS the lease: the entry
  enters this consumer's pending list), taking each queue's quota first, then filling what empty queues left
  from the others in the same order. Returns each task's snapshot so the caller can decide without a reread.
  KEYS[i]  ready streams in plan order        td:{p}:ready:<q>
  ARGV[1] consumer group  ARGV[2] consumer  ARGV[3] task key prefix td:{p}:task:  ARGV[3+i] quota of KEYS[i]
  Returns { {key index, entry id, task id, version, history, request}, ... } and, when fewer were found than
  asked for (every stream is drained), a last element {0, last id of KEYS[1], last id of KEYS[2], ...}: an
  XREAD BLOCK from those ids wakes on the first entry added after this script, without a gap.            ]]
local group, consumer, prefix = ARGV[1], ARGV[2], ARGV[3]
local out, exhausted = {}, {}
local wanted, got = 0, 0

local function take(i, count)
  local reply = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count, 'STREAMS', KEYS[i], '>')
  local entries = reply and reply[1][2] or {}
  for _, entry in ipairs(entries) do
    local taskId = entry[2][2]
    local snap = redis.call('HMGET', prefix .. taskId, 'v', 'h', 'r')
    out[#out + 1] = { i, entry[1], taskId, snap[1] or '0', snap[2] or '', snap[3] or '' }
  end
  if #entries < count then exhausted[i] = true end
  got = got + #entries
end

for i = 1, #KEYS do wanted = wanted + tonumber(ARGV[3 + i]) end
for i = 1, #KEYS do
  local quota = tonumber(ARGV[3 + i])
  if quota > 0 then take(i, quota) end
end
for i = 1, #KEYS do
  if got >= wanted then break end
  if not exhausted[i] then take(i, wanted - got) end
end
if got < wanted then
  local last = { 0 }
  for i = 1, #KEYS do
    local newest = redis.call('XREVRANGE', KEYS[i], '+', '-', 'COUNT', 1)[1]
    last[#last + 1] = newest and newest[1] or '0-0'
  end
  out[#out + 1] = last
end
return out
