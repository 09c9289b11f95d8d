-- ARGV: jids... Returns one string, a letter per job: w q p d e k s, '-' if unknown.
local out = {}
for i = 1, #ARGV do
  local st = redis.call('HGET', P .. 'job:' .. ARGV[i], 'status')
  out[i] = st and LETTER[st] or '-'
end
return table.concat(out)
