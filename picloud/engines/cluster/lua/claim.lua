-- A worker starts a chunk. ARGV: now, owner, first, count, lease expiry, chunk id, api key
-- (the message's signer: only that key's jobs are claimed; '*' for an unsigned message, whose
-- jobs are claimed only to fail them).
-- Returns {claimed jids as "1,2,3", jid, owner, jid, owner, ...} (pairs: jobs another worker
-- holds, for the caller to check whether that worker is gone).
local now, owner, first, count = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local key = ARGV[7]
local claimed, out = {}, {''}
for j = first, first + count - 1 do
  local k = P .. 'job:' .. j
  local st, holder, attempts, job_key =
    unpack(redis.call('HMGET', k, 'status', 'worker', 'attempts', 'owner'))
  if not visible(job_key, key) then st = nil end
  if st == 'queued' then
    redis.call('HSET', k, 'status', 'processing', 'started', now, 'worker', owner,
      'attempts', (tonumber(attempts) or 0) + 1)
    note(j, 'processing', nil)
    claimed[#claimed + 1] = j
  elseif st == 'processing' and holder ~= owner then
    out[#out + 1] = j; out[#out + 1] = holder
  end
end
if #claimed > 0 or #out > 1 then
  redis.call('ZADD', P .. 'leases', ARGV[5], ARGV[6])
  redis.call('HSET', P .. 'chunkmsg:' .. ARGV[6], 'owner', owner)
end
out[1] = table.concat(claimed, ',')
flush(now)
return out
