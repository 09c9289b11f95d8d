-- ARGV: jids... Returns one string: per job a status letter, a 4-byte big-endian length and
-- that many bytes: the pickled result (done), the error text (failed) or nothing.
local out = {}
for i = 1, #ARGV do
  local st, result, exception = unpack(redis.call('HMGET', P .. 'job:' .. ARGV[i],
    'status', 'result', 'exception'))
  local body = ''
  if st == 'done' then body = result or '' elseif st then body = exception or '' end
  out[i] = (st and LETTER[st] or '-') .. struct.pack('>I4', #body) .. body
end
return table.concat(out)
