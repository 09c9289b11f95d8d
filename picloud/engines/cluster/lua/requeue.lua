-- The reaper found chunk ARGV[2]'s lease expired. ARGV: now, chunk id, max attempts.
-- Restartable jobs go back to their queue; the others fail naming the lost worker.
local now, chunk, max_attempts = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ck = P .. 'chunkmsg:' .. chunk
local owner = redis.call('HGET', ck, 'owner')
redis.call('ZREM', P .. 'leases', chunk)
if not owner then return 0 end
local first, count = tonumber(redis.call('HGET', ck, 'first')), tonumber(redis.call('HGET', ck, 'count'))
local requeued = 0
for j = first, first + count - 1 do
  local k = P .. 'job:' .. j
  if redis.call('HGET', k, 'status') == 'processing' and redis.call('HGET', k, 'worker') == owner then
    local b = redis.call('HGET', k, 'batch')
    local attempts = tonumber(redis.call('HGET', k, 'attempts') or '1')
    if redis.call('HGET', P .. 'batch:' .. b, 'restartable') == '1' and attempts < max_attempts then
      redis.call('HSET', k, 'status', 'queued')
      record(j, 'queued')
      requeued = requeued + 1
    else
      finish(j, 'error', now, 'The worker running this job (' .. owner ..
        ') was lost: it stopped renewing its lease; the job was not run again')
    end
  end
end
if requeued > 0 then
  redis.call('LPUSH', redis.call('HGET', ck, 'queue'), redis.call('HGET', ck, 'message'))
end
flush(now)
return requeued
