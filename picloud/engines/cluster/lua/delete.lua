-- ARGV: api key ('*' = any), now, jids... Deletes finished jobs (ledger event 'deleted').
-- Returns {'ok'} or {'unfinished', jid...} (nothing deleted then) or {'missing', jid} (unknown
-- or another key's).
local who, now = ARGV[1], ARGV[2]
local unfinished = {}
for i = 3, #ARGV do
  local st, owner = unpack(redis.call('HMGET', P .. 'job:' .. ARGV[i], 'status', 'owner'))
  if not st or not visible(owner, who) then return {'missing', ARGV[i]} end
  if not FINISHED[st] then unfinished[#unfinished + 1] = ARGV[i] end
end
if #unfinished > 0 then
  table.insert(unfinished, 1, 'unfinished')
  return unfinished
end
for i = 3, #ARGV do
  local j = ARGV[i]
  redis.call('DEL', P .. 'job:' .. j, P .. 'out:' .. j .. ':stdout',
    P .. 'out:' .. j .. ':stderr', P .. 'children:' .. j)
  note(j, 'deleted', nil)
end
flush(now)
return {'ok'}
