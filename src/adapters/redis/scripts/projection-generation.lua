--[[ projection-generation: start a rebuild of a projection, or switch reads over to the rebuilt generation.
  KEYS[1] the projection's hash td:{p}:proj:<name> (fields active, building, last)
  ARGV[1] 'start' | 'switch' | 'abandon'
  start:  ARGV[2] lock key prefix td:{p}:proj:<name>:lock:  ARGV[3] token ('' = leave the lock to the projectors)  ARGV[4] lock time to live (ms)
          → the generation being built (a new one, or the one already in progress) and whether this token now
            holds its lock. The lock key is built here, as the generation is only known here; it shares the
            projection's hash tag, so it lives in the same cluster slot.
  switch: ARGV[2] the generation that has caught up  ARGV[3] now (ms)
          → the generation that served reads until now, marked `retired:<gen>` = now to be dropped, or 0 if
            ARGV[2] is not being built
  abandon: ARGV[2] the generation being built  ARGV[3] now (ms) → it stops being built and is marked retired,
          or 0 if ARGV[2] is not being built                                                                ]]
if ARGV[1] == 'start' then
  local building = redis.call('HGET', KEYS[1], 'building')
  if not building then
    redis.call('HSETNX', KEYS[1], 'active', 1)
    redis.call('HSETNX', KEYS[1], 'last', 1)
    building = redis.call('HINCRBY', KEYS[1], 'last', 1)
    redis.call('HSET', KEYS[1], 'building', building)
  end
  if ARGV[3] == '' then return { tonumber(building), 0 } end
  local locked = redis.call('SET', ARGV[2] .. building, ARGV[3], 'PX', ARGV[4], 'NX')
  return { tonumber(building), locked and 1 or 0 }
end
if redis.call('HGET', KEYS[1], 'building') ~= ARGV[2] then return 0 end
if ARGV[1] == 'abandon' then
  redis.call('HDEL', KEYS[1], 'building')
  redis.call('HSET', KEYS[1], 'retired:' .. ARGV[2], ARGV[3])
  return tonumber(ARGV[2])
end
local old = tonumber(redis.call('HGET', KEYS[1], 'active') or '0')
redis.call('HSET', KEYS[1], 'active', ARGV[2])
redis.call('HDEL', KEYS[1], 'building')
-- the replaced generation is dropped later, by whichever projector sees this, once reads have left it
redis.call('HSET', KEYS[1], 'retired:' .. old, ARGV[3])
return old
