--[[ client-delete: remove a client, its API key entry and its rate window, in one step.
  KEYS[1] the client's hash  td:{p}:client:<id>   KEYS[2] ids of every client  td:{p}:clients
  KEYS[3] the client's rate window  td:{p}:rate:<id>
  ARGV[1] client id  ARGV[2] prefix of the key entries  td:{p}:apikey:
  Its tasks stay; a task already accepted is still delivered.
  Returns 1 when the client existed, else 0                                                             ]]
local digest = redis.call('HGET', KEYS[1], 'digest')
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if digest then redis.call('DEL', ARGV[2] .. digest) end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('SREM', KEYS[2], ARGV[1])
return 1
