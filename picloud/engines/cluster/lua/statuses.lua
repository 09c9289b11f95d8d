-- ARGV: api key ('*' = any), jids... Returns one string, a letter per job: w q p d e k s,
-- '-' if unknown or another key's.
local who = ARGV[1]
local out = {}
for i = 2, #ARGV do
  local st, owner = unpack(redis.call('HMGET', P .. 'job:' .. ARGV[i], 'status', 'owner'))
  out[i - 1] = (st and visible(owner, who)) and LETTER[st] or '-'
end
return table.concat(out)
