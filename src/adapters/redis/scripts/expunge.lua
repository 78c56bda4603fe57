--[[ expunge: remove finished tasks from Redis, each with its last event appended to the ledger first, so no
  task disappears without a trace. Per task all or nothing, checked against the version it was decided on.
  KEYS[1] all-events stream  td:{p}:events   KEYS[1+i] task hash  td:{p}:task:<id>
  ARGV: per task 3 values: taskId, expected version, the expunged event (one JSON line)
  Returns one reply per task: 'OK' | 'CONFLICT:<current version>'                                        ]]
local results = {}
for i = 1, #KEYS - 1 do
  local a = (i - 1) * 3
  local taskKey, taskId, expected = KEYS[1 + i], ARGV[a + 1], tonumber(ARGV[a + 2])
  local current = tonumber(redis.call('HGET', taskKey, 'v') or '0')
  if current ~= expected then
    results[i] = 'CONFLICT:' .. current
  else
    redis.call('XADD', KEYS[1], '*', 'id', taskId, 'e', ARGV[a + 3])
    redis.call('DEL', taskKey)
    results[i] = 'OK'
  end
end
return results
