--[[ reclaim: take over entries whose lease expired (idle in the pending list longer than the lease, so their
  holder stopped extending them) and return their snapshots. XAUTOCLAIM moves ownership atomically, so two
  reclaimers cannot both win an entry; entries whose stream entry is gone are dropped by Redis itself.
  KEYS[i]  ready streams                     td:{p}:ready:<q>
  ARGV[1] consumer group  ARGV[2] consumer  ARGV[3] task key prefix  ARGV[4] min idle ms  ARGV[5] max entries
  Returns { {key index, entry id, task id, version, history, request}, ... }                             ]]
local group, consumer, prefix = ARGV[1], ARGV[2], ARGV[3]
local minIdle, left = ARGV[4], tonumber(ARGV[5])
local out = {}
for i = 1, #KEYS do
  if left <= 0 then break end
  local reply = redis.call('XAUTOCLAIM', KEYS[i], group, consumer, minIdle, '0-0', 'COUNT', left)
  for _, entry in ipairs(reply[2]) do
    if entry[2] then
      local taskId = entry[2][2]
      local snap = redis.call('HMGET', prefix .. taskId, 'v', 'h', 'r')
      out[#out + 1] = { i, entry[1], taskId, snap[1] or '0', snap[2] or '', snap[3] or '' }
      left = left - 1
    end
  end
end
return out
