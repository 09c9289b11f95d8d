-- ARGV: api key ('*' = any), jids (see argv_jids). Returns one string, a letter per job:
-- w q p d e k s, '-' if unknown or another key's.
local who = ARGV[1]
local out = {}
for i, jid in ipairs(argv_jids(2)) do
  local st, owner = unpack(redis.call('HMGET', P .. 'job:' .. jid, 'status', 'owner'))
  out[i] = (st and visible(owner, who)) and LETTER[st] or '-'
end
return table.concat(out)
