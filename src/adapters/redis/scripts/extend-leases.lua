--[[ extend-leases: reset the idle time of entries this consumer still holds, so reclaimers leave them alone.
  An entry another consumer has reclaimed is not taken back: it is reported as lost instead.
  KEYS[1] ready stream  td:{p}:ready:<q>
  ARGV[1] consumer group  ARGV[2] consumer  ARGV[3..] entry ids
  Returns the entry ids whose lease was lost                                                               ]]
local lost = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if #redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1, ARGV[2]) == 0 then
    lost[#lost + 1] = id
  else
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'JUSTID')
  end
end
return lost
