-- ARGV: api key ('*' = any), now, jids... Deletes finished jobs (ledger event 'deleted').
-- Returns {'ok'} or {'unfinished', jid...} (nothing deleted then) or {'missing', jid} (unknown
-- or another key's).
local who, now = ARGV[1], ARGV[2]
local refusal = refuse_unfinished(who, 3)
if refusal then return refusal end
for i = 3, #ARGV do
  local j = ARGV[i]
  redis.call('DEL', P .. 'job:' .. j, P .. 'result:' .. j, P .. 'out:' .. j .. ':stdout',
    P .. 'out:' .. j .. ':stderr', P .. 'children:' .. j)
  note(j, 'deleted', nil)
end
flush(now)
return {'ok'}
