-- Chunk ARGV[2]'s jobs that `owner` holds but will not finish (its process died, it stopped
-- renewing the chunk's lease, or it hands the rest of the chunk on after a _kill_process job).
-- ARGV: now, chunk id, owner ('' = the chunk's recorded holder, for the reaper), last started
-- jid, that job's state ('running', 'finished', or 'unknown': then the chunk's progress record
-- is used, and failing that the first unfinished job is taken as the running one), what
-- happened to the worker, max attempts.
-- A job after the last started one never started: it goes back to queued, uncharged. The last
-- started one (and an earlier one whose result was never stored) ran: it is charged an attempt
-- and is queued again when restartable with attempts left, else it fails naming the loss.
-- Returns how many jobs were queued again; then (or when some job of the chunk was never
-- claimed) the chunk goes to the head of its queue.
local now, chunk, owner, last, state, why, max_attempts =
  ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], tonumber(ARGV[7])
local ck = P .. 'chunkmsg:' .. chunk
local holder, first, count, progress =
  unpack(redis.call('HMGET', ck, 'owner', 'first', 'count', 'started'))
redis.call('ZREM', P .. 'leases', chunk)
if not first then return 0 end
first, count = tonumber(first), tonumber(count)
if owner == '' then owner = holder end
if not owner then return 0 end
if redis.call('HGET', P .. 'holding', owner) == chunk then redis.call('HDEL', P .. 'holding', owner) end

local function held(j)
  local st, w = unpack(redis.call('HMGET', P .. 'job:' .. j, 'status', 'worker'))
  return st == 'processing' and w == owner
end

if state == 'unknown' then
  state, last = 'running', tonumber(progress) or 0
  if last == 0 or not held(last) then
    last = first + count
    for j = first, first + count - 1 do
      if held(j) then last = j; break end
    end
  end
end

local requeued, waiting = 0, false
for j = first, first + count - 1 do
  if not waiting and redis.call('HGET', P .. 'job:' .. j, 'status') == 'queued' then
    waiting = true  -- never claimed (the process died before its claim): the message must stay
  end
  if held(j) then
    if j > last then
      local k = P .. 'job:' .. j
      redis.call('HSET', k, 'status', 'queued')
      redis.call('HDEL', k, 'worker', 'started')
      record(j, 'queued')
      requeued = requeued + 1
    else
      if charge_lost(j, owner, why, j == last and state == 'running', max_attempts, now) then
        redis.call('HSET', P .. 'job:' .. j, 'status', 'queued')
        record(j, 'queued')
        requeued = requeued + 1
      end
    end
  end
end
if requeued > 0 or waiting then requeue(chunk, true) end
flush(now)
return requeued
