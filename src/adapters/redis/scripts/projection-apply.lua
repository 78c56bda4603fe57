--[[ projection-apply: one batch of a projection's writes and its checkpoint, all or nothing. Only the holder of
  the generation's lock may write, and only on the checkpoint its batch was planned from, so a batch is never
  applied twice and never applied out of order. The checkpoint is the only read position: the projector reads
  the ledger with XRANGE after it (no consumer group, so reading writes nothing and replicates nothing).
  KEYS[1] the generation's lock  td:{p}:proj:<name>:lock:<gen>   KEYS[2] the generation's meta hash
  KEYS[3] the ledger stream       td:{p}:events
  ARGV[1] lock token  ARGV[2] expected checkpoint ('' = none yet)  ARGV[3] new checkpoint
  ARGV[4] the first ledger id read ('' = the batch did not come from the ledger stream)
  ARGV[5] events applied in this batch  ARGV[6] ledger entries the batch read (applied or skipped)
  then the writes, each as: argument count, command (HSET HDEL HINCRBY ZADD ZREM SADD), key, arguments...
  The meta's `seq` is how many entries the ledger had ever had when it reached the checkpoint (XINFO's
  entries-added), so that the lag is entries-added now minus seq: set whenever a batch ends at the ledger's
  newest entry or is a generation's first, counted on from there otherwise; when it is missing (a generation from
  before seq, or after an archive replay) a batch sets it by counting the entries after it, if at most 10,000.
  Returns 'OK' | 'LOCK_LOST' | 'CHECKPOINT:<current>' | 'GAP:<the entry after the checkpoint>'           ]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'LOCK_LOST' end
local current = redis.call('HGET', KEYS[2], 'checkpoint') or ''
if current ~= ARGV[2] then return 'CHECKPOINT:' .. current end
-- the batch must start right after the checkpoint, or the entries in between would never be applied
if ARGV[4] ~= '' then
  local from = '-'
  if current ~= '' then from = '(' .. current end
  local nextEntry = redis.call('XRANGE', KEYS[3], from, '+', 'COUNT', 1)[1]
  if nextEntry == nil or nextEntry[1] ~= ARGV[4] then return 'GAP:' .. tostring(nextEntry and nextEntry[1]) end
end

local allowed = { HSET = true, HDEL = true, HINCRBY = true, ZADD = true, ZREM = true, SADD = true }
-- every write is checked before the first runs: Redis does not roll a script back, so a refusal half-way
-- would leave half a batch
local i = 7
while i <= #ARGV do
  if not allowed[ARGV[i + 1]] then return redis.error_reply('projection-apply: command not allowed: ' .. ARGV[i + 1]) end
  i = i + tonumber(ARGV[i]) + 1
end
i = 7
while i <= #ARGV do
  local argc = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + argc))
  i = i + argc + 1
end
redis.call('HSET', KEYS[2], 'checkpoint', ARGV[3])
redis.call('HINCRBY', KEYS[2], 'applied', ARGV[5])
if ARGV[4] ~= '' then
  local info = redis.call('XINFO', 'STREAM', KEYS[3])
  local lastId, added, length
  for j = 1, #info, 2 do
    if info[j] == 'last-generated-id' then lastId = info[j + 1] end
    if info[j] == 'entries-added' then added = info[j + 1] end
    if info[j] == 'length' then length = info[j + 1] end
  end
  if lastId == ARGV[3] then
    redis.call('HSET', KEYS[2], 'seq', added)
  elseif current == '' then
    -- a first batch starts at the ledger's oldest entry: every entry trimmed before it counts as passed
    redis.call('HSET', KEYS[2], 'seq', added - length + tonumber(ARGV[6]))
  elseif redis.call('HEXISTS', KEYS[2], 'seq') == 1 then
    redis.call('HINCRBY', KEYS[2], 'seq', ARGV[6])
  else
    -- no seq yet (a generation made before seq existed, or after an archive replay): count the entries after the
    -- new checkpoint, when there are few enough to count at once; otherwise a later batch does
    local after = redis.call('XRANGE', KEYS[3], '(' .. ARGV[3], '+', 'COUNT', 10001)
    if #after <= 10000 then redis.call('HSET', KEYS[2], 'seq', added - #after) end
  end
end
return 'OK'
