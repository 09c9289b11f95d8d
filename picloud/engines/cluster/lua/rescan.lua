-- After Redis restarted (from a snapshot older than its last writes, say), a chunk may be
-- missing from its queue while its jobs still wait. ARGV: chunk ids. Each chunk with a queued
-- job goes to the head of its queue again (one that is still there only moves: a queue holds a
-- chunk once, and a take claims only queued jobs). Returns how many chunks were queued.
local pushed = 0
for i = 1, #ARGV do
  local first, count = unpack(redis.call('HMGET', P .. 'chunkmsg:' .. ARGV[i], 'first', 'count'))
  if first then
    for j = tonumber(first), tonumber(first) + tonumber(count) - 1 do
      if redis.call('HGET', P .. 'job:' .. j, 'status') == 'queued' then
        requeue(ARGV[i], true)
        pushed = pushed + 1
        break
      end
    end
  end
end
return pushed
