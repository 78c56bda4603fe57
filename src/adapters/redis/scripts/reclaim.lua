--[[ reclaim: take over entries whose lease expired (idle in the pending list longer than the lease, so their
  holder stopped extending them) and return their snapshots. XPENDING IDLE finds them wherever they sit in
  the pending list; XCLAIM with the same min-idle moves ownership only if the entry is still idle, so two
  reclaimers cannot both win it. Entries whose stream entry is gone are dropped from the list by XCLAIM.
  KEYS[i]  ready streams                     td:{p}:ready:<q>
  ARGV[1] consumer group  ARGV[2] consumer  ARGV[3] task key prefix  ARGV[4] min idle ms  ARGV[5] max entries
  Returns { {key index, entry id, task id, version, history, request, entry's client tag}, ... }          ]]
local group, consumer, prefix = ARGV[1], ARGV[2], ARGV[3]
local minIdle, left = tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
for i = 1, #KEYS do
  if left <= 0 then break end
  local expired = redis.call('XPENDING', KEYS[i], group, 'IDLE', minIdle, '-', '+', left)
  if #expired > 0 then
    local ids = {}
    for _, p in ipairs(expired) do ids[#ids + 1] = p[1] end
    local claimed = redis.call('XCLAIM', KEYS[i], group, consumer, minIdle, unpack(ids))
    for _, entry in ipairs(claimed) do
      if entry and entry[2] then
        local taskId = entry[2][2]
        local snap = redis.call('HMGET', prefix .. taskId, 'v', 'h', 'r')
        out[#out + 1] = { i, entry[1], taskId, snap[1] or '0', snap[2] or '', snap[3] or '', entry[2][4] or '' }
        left = left - 1
      end
    end
  end
end
return out
