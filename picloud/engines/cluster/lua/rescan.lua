-- After Redis restarted, or a worker was lost whole: a chunk taken then may be gone from its
-- queue while its jobs still wait. ARGV: chunk ids. Each chunk with a queued job goes to the
-- head of its queue again (one that is still there only moves: a queue holds a chunk once, and
-- a worker claims only its queued jobs). Returns how many chunks were queued.
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
