-- Run finished jobs again under the same jids (the admin's re-run): each goes back to queued
-- and its chunk (its signed message) is queued again (a worker claims only its queued jobs).
-- ARGV: api key ('*' = any), now, jids... Returns {'ok', n} or {'unfinished', jid...} or
-- {'missing', jid} (nothing changed then).
local who, now = ARGV[1], ARGV[2]
local refusal = refuse_unfinished(who, 3)
if refusal then return refusal end
local chunks = {}
for i = 3, #ARGV do
  local j = ARGV[i]
  local k = P .. 'job:' .. j
  redis.call('HDEL', k, 'result', 'exception', 'started', 'finished', 'runtime', 'worker',
    'profile')
  redis.call('HSET', k, 'status', 'queued', 'attempts', 0)
  redis.call('DEL', P .. 'result:' .. j, P .. 'out:' .. j .. ':stdout',
    P .. 'out:' .. j .. ':stderr')
  chunks[redis.call('HGET', k, 'chunk')] = true
  note(j, 'queued', nil)
end
for chunk in pairs(chunks) do requeue(chunk, false) end
flush(now)
return {'ok', #ARGV - 2}
