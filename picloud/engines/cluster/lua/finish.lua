-- A worker reports finished jobs. ARGV: now, owner, chunk id (or '' if more follow), then per
-- job: jid, status, started, runtime, exception, profile, result ('' unless done)
local now, owner, chunk = ARGV[1], ARGV[2], ARGV[3]
for i = 4, #ARGV, 7 do
  local j = ARGV[i]
  local k = P .. 'job:' .. j
  if redis.call('HGET', k, 'status') == 'processing' and redis.call('HGET', k, 'worker') == owner then
    redis.call('HSET', k, 'started', ARGV[i + 2], 'runtime', ARGV[i + 3])
    if ARGV[i + 5] ~= '' then redis.call('HSET', k, 'profile', ARGV[i + 5]) end
    if ARGV[i + 1] == 'done' then redis.call('SET', P .. 'result:' .. j, ARGV[i + 6]) end
    finish(j, ARGV[i + 1], now, ARGV[i + 4])
  end
end
if chunk ~= '' then redis.call('ZREM', P .. 'leases', chunk) end
flush(now)
return 1
