-- Jobs whose worker is gone: run them again here (restartable, attempts left) or fail them.
-- ARGV: now, owner, lost owner, why, max attempts, jids...
-- Returns the jids this owner now runs.
local now, owner, lost, why, max_attempts = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local out = {}
for i = 6, #ARGV do
  local j = ARGV[i]
  local k = P .. 'job:' .. j
  if redis.call('HGET', k, 'status') == 'processing' and redis.call('HGET', k, 'worker') == lost then
    local b = redis.call('HGET', k, 'batch')
    local attempts = tonumber(redis.call('HGET', k, 'attempts') or '1')
    local restartable = redis.call('HGET', P .. 'batch:' .. b, 'restartable') == '1'
    if restartable and attempts < max_attempts then
      redis.call('HSET', k, 'worker', owner, 'started', now)
      redis.call('HINCRBY', k, 'attempts', 1)
      out[#out + 1] = j
    else
      local reason = 'The worker running this job (' .. lost .. ') was lost: ' .. why
      if restartable then
        reason = reason .. '; it was not run again after ' .. attempts .. ' attempts'
      else
        reason = reason .. '; _restartable=False, so it was not run again'
      end
      finish(j, 'error', now, reason)
    end
  end
end
flush(now)
return out
