-- ARGV: api key ('*' = any), jids... Returns one string: per job a status letter ('-' when
-- unknown or another key's), a 4-byte big-endian length and that many bytes: the pickled result
-- (done), the error text (failed) or nothing. A body of BIG bytes or more is left out (length
-- 0xFFFFFFFF): the client reads it with HGET, which copies it once, not four times here.
local BIG = 65536
local who = ARGV[1]
local out = {}
for i = 2, #ARGV do
  local st, result, exception, owner = unpack(redis.call('HMGET', P .. 'job:' .. ARGV[i],
    'status', 'result', 'exception', 'owner'))
  if st and not visible(owner, who) then st = nil end
  local body = ''
  if st == 'done' then body = result or '' elseif st then body = exception or '' end
  if #body >= BIG then
    out[i - 1] = LETTER[st] .. struct.pack('>I4', 4294967295)
  else
    out[i - 1] = (st and LETTER[st] or '-') .. struct.pack('>I4', #body) .. body
  end
end
return table.concat(out)
