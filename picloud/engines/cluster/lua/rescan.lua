-- After Redis restarted: a message in flight then (popped, not yet recorded by kombu, or
-- given up by its worker) may be gone while its jobs still wait. ARGV: chunk ids. Each chunk
-- with a queued job gets its message queued again (a second copy is harmless: a worker claims
-- only queued jobs). Returns how many messages were queued.
local pushed = 0
for i = 1, #ARGV do
  local first, count, queue, message = unpack(redis.call('HMGET', P .. 'chunkmsg:' .. ARGV[i],
    'first', 'count', 'queue', 'message'))
  if first then
    for j = tonumber(first), tonumber(first) + tonumber(count) - 1 do
      if redis.call('HGET', P .. 'job:' .. j, 'status') == 'queued' then
        redis.call('RPUSH', queue, message)
        pushed = pushed + 1
        break
      end
    end
  end
end
return pushed
