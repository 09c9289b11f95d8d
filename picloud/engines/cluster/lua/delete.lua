-- ARGV: jids... Deletes finished jobs. Returns {'ok'} or {'unfinished', jid...} (nothing
-- deleted then) or {'missing', jid}.
local unfinished = {}
for i = 1, #ARGV do
  local st = redis.call('HGET', P .. 'job:' .. ARGV[i], 'status')
  if not st then return {'missing', ARGV[i]} end
  if not FINISHED[st] then unfinished[#unfinished + 1] = ARGV[i] end
end
if #unfinished > 0 then
  table.insert(unfinished, 1, 'unfinished')
  return unfinished
end
for i = 1, #ARGV do
  local j = ARGV[i]
  redis.call('DEL', P .. 'job:' .. j, P .. 'out:' .. j .. ':stdout',
    P .. 'out:' .. j .. ':stderr', P .. 'children:' .. j)
end
return {'ok'}
