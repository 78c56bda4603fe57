--[[ lock: renew or release a lock, only while this token holds it.
  KEYS[1] the lock   ARGV[1] token   ARGV[2] 'renew' | 'release'   ARGV[3] time to live (ms, for renew)
  Returns 1 when the token held the lock, else 0                                                         ]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'release' then
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
