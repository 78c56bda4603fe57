--[[ lock: renew or release a lock, or create a consumer group under it, only while this token holds it.
  KEYS[1] the lock   ARGV[1] token   ARGV[2] 'renew' | 'release' | 'create-group'   ARGV[3] time to live (ms, for renew)
  create-group: KEYS[2] the stream  ARGV[3] the group  ARGV[4] the id it starts after (a group created without the
    lock could outlive a generation dropped meanwhile)
  Returns 1 when the token held the lock, else 0                                                         ]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'create-group' then
  local reply = redis.pcall('XGROUP', 'CREATE', KEYS[2], ARGV[3], ARGV[4], 'MKSTREAM')
  if type(reply) == 'table' and reply.err and not string.find(reply.err, 'BUSYGROUP') then return reply end
elseif ARGV[2] == 'release' then
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
