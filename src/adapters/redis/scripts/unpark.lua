--[[ unpark: for every client with parked tasks, put back on their ready streams as many as its limit leaves
  room for (all of them when it has no limit any more), at most ARGV[4] in all.
  KEYS[1] parked clients set  KEYS[2] in-flight hash
  ARGV[1] client key prefix  ARGV[2] parked list prefix  ARGV[3] limits by tier 'free=1,basic=5'  ARGV[4] max
  Returns how many tasks went back.                                                                      ]]
local tierLimit = {}
for tier, limit in string.gmatch(ARGV[3], '([^,=]+)=(%d+)') do tierLimit[tier] = tonumber(limit) end
local left, moved = tonumber(ARGV[4]), 0
for _, client in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if left <= 0 then break end
  local tier = redis.call('HGET', ARGV[1] .. client, 'tier')
  local limit = tier and tierLimit[tier]
  local room = left
  if limit then room = math.min(left, limit - tonumber(redis.call('HGET', KEYS[2], client) or '0')) end
  local list = ARGV[2] .. client
  for _ = 1, room do
    local parked = redis.call('LPOP', list)
    if not parked then break end
    local space = string.find(parked, ' ', 1, true)
    redis.call('XADD', string.sub(parked, 1, space - 1), '*', 'id', string.sub(parked, space + 1), 'c', client)
    moved = moved + 1
    left = left - 1
  end
  if redis.call('LLEN', list) == 0 then redis.call('SREM', KEYS[1], client) end
end
return moved
