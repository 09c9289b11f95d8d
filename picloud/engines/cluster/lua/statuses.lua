-- ARGV: jids... Returns one string, a letter per job: w q p d e k s, '-' if unknown.
local LETTER = {waiting = 'w', queued = 'q', processing = 'p', done = 'd', error = 'e',
  killed = 'k', stalled = 's'}
local out = {}
for i = 1, #ARGV do
  local st = redis.call('HGET', P .. 'job:' .. ARGV[i], 'status')
  out[i] = st and LETTER[st] or '-'
end
return table.concat(out)
