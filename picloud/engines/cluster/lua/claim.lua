-- A worker takes a chunk. ARGV: now, owner, first, count, lease expiry, chunk id, api key
-- (the message's signer: only that key's jobs are claimed; '*' for an unsigned message, whose
-- jobs are claimed only to fail them).
-- The chunk's queued jobs become processing, held by `owner`; none is charged an attempt here
-- (a job's attempt starts when the job starts: finish.lua and release.lua count them). The
-- chunk's progress record (its last started job) starts at 0. Claiming again is harmless: when
-- the reply to a claim was lost (a cut connection) and `owner` asks again, the jobs it holds
-- that have not started are its claim still.
-- Returns {claimed jids as "1,2,3", '1' if their submission is restartable else '0'}.
local now, owner, first, count = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local key = ARGV[7]
local claimed, restartable = {}, '1'
local holder, progress = unpack(redis.call('HMGET', P .. 'chunkmsg:' .. ARGV[6], 'owner', 'started'))
local again = holder == owner and redis.call('ZSCORE', P .. 'leases', ARGV[6])
local last_started = tonumber(progress) or 0
for j = first, first + count - 1 do
  local k = P .. 'job:' .. j
  local st, job_key, worker = unpack(redis.call('HMGET', k, 'status', 'owner', 'worker'))
  if st == 'queued' and visible(job_key, key) then
    redis.call('HSET', k, 'status', 'processing', 'started', now, 'worker', owner)
    note(j, 'processing', nil)
    claimed[#claimed + 1] = j
  elseif again and st == 'processing' and worker == owner and j > last_started then
    claimed[#claimed + 1] = j
  end
end
if #claimed > 0 then
  local b = redis.call('HGET', P .. 'job:' .. claimed[1], 'batch')
  restartable = redis.call('HGET', P .. 'batch:' .. b, 'restartable') or '1'
  redis.call('ZADD', P .. 'leases', ARGV[5], ARGV[6])
  redis.call('HSET', P .. 'chunkmsg:' .. ARGV[6], 'owner', owner, 'started', 0)
end
flush(now)
return {table.concat(claimed, ','), restartable}
