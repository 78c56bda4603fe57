--[[ projection-apply: one batch of a projection's writes, its checkpoint and the ack of the ledger entries it
  consumed, all or nothing. Only the holder of the generation's lock may write, and only on the checkpoint its
  batch was planned from, so a batch is never applied twice and never applied out of order.
  KEYS[1] the generation's lock  td:{p}:proj:<name>:lock:<gen>   KEYS[2] the generation's meta hash
  KEYS[3] the ledger stream       td:{p}:events
  ARGV[1] lock token  ARGV[2] consumer group  ARGV[3] expected checkpoint ('' = none yet)  ARGV[4] new checkpoint
  ARGV[5] the first ledger id applied ('' = none: the batch only acks)  ARGV[6] events applied in this batch
  ARGV[7] n = ledger ids to ack, then the n ids
  then the writes, each as: argument count, command (HSET HDEL HINCRBY ZADD ZREM SADD), key, arguments...
  Returns 'OK' | 'LOCK_LOST' | 'CHECKPOINT:<current>' | 'GAP:<the entry after the checkpoint>'           ]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'LOCK_LOST' end
local current = redis.call('HGET', KEYS[2], 'checkpoint') or ''
if current ~= ARGV[3] then return 'CHECKPOINT:' .. current end
-- the batch must start right after the checkpoint: entries read by a process that lost the lock would
-- otherwise be skipped
if ARGV[5] ~= '' then
  local from = '-'
  if current ~= '' then from = '(' .. current end
  local nextEntry = redis.call('XRANGE', KEYS[3], from, '+', 'COUNT', 1)[1]
  if nextEntry == nil or nextEntry[1] ~= ARGV[5] then return 'GAP:' .. tostring(nextEntry and nextEntry[1]) end
end

local allowed = { HSET = true, HDEL = true, HINCRBY = true, ZADD = true, ZREM = true, SADD = true }
local n = tonumber(ARGV[7])
-- every write is checked before the first runs: Redis does not roll a script back, so a refusal half-way
-- would leave half a batch
local i = 8 + n
while i <= #ARGV do
  if not allowed[ARGV[i + 1]] then return redis.error_reply('projection-apply: command not allowed: ' .. ARGV[i + 1]) end
  i = i + tonumber(ARGV[i]) + 1
end
i = 8 + n
while i <= #ARGV do
  local argc = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + argc))
  i = i + argc + 1
end
redis.call('HSET', KEYS[2], 'checkpoint', ARGV[4])
redis.call('HINCRBY', KEYS[2], 'applied', ARGV[6])
if n > 0 then redis.call('XACK', KEYS[3], ARGV[2], unpack(ARGV, 8, 7 + n)) end
return 'OK'
