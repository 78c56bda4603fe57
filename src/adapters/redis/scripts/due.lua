--[[ due: the tasks due by now, with their snapshots, and when the next one after now falls due.
  KEYS[1] due zset  td:{p}:due
  ARGV[1] now (ms)  ARGV[2] max tasks  ARGV[3] task key prefix
  Returns { next due ms after now or '', { {task id, version, history}, ... } }                            ]]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, taskId in ipairs(ids) do
  local snap = redis.call('HMGET', ARGV[3] .. taskId, 'v', 'h')
  out[#out + 1] = { taskId, snap[1] or '0', snap[2] or '' }
end
local after = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
return { after[2] or '', out }
