-- ARGV: api key ('*' = any), jids (see argv_jids). Returns a list: a string of status letters,
-- one per job ('-' when unknown or another key's), then each job's body: the pickled result
-- (done), the error text (failed), '' otherwise, or nil when it is BIG bytes or more, or a
-- large result kept apart (pc:result:<jid>): the client reads those itself, each copied once,
-- not twice here.
local BIG = 65536
local who = ARGV[1]
local letters, out = {}, {''}
for i, jid in ipairs(argv_jids(2)) do
  local st, result, exception, owner = unpack(redis.call('HMGET', P .. 'job:' .. jid,
    'status', 'result', 'exception', 'owner'))
  local body = ''
  if st and visible(owner, who) then
    letters[i] = LETTER[st]
    if st == 'done' then body = result else body = exception or '' end
    if body and #body >= BIG then body = false end
  else
    letters[i] = '-'
  end
  out[i + 1] = body
end
out[1] = table.concat(letters)
return out
