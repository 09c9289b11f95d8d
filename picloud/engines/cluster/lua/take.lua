-- A pool process takes the next chunk of its queues and claims the chunk's jobs.
-- ARGV: now, owner, lease expiry, woken (the queue whose wake-up token brought it, that token
-- spent; '' if none: a token goes with each chunk popped, so tokens and chunks stay as many),
-- again ('1' when the reply to its last take may have been lost: the chunk it holds is taken
-- again, with its jobs that have not started), then its queues, the first served first.
-- A chunk taken is held by `owner` (pc:holding, its lease, its progress record at 0), and
-- its queued jobs of the message's key become processing (none is charged an attempt here: a
-- job's run is counted when it ends, by finish.lua or release.lua). A chunk with no job left
-- to claim (killed, or taken already as another copy) is dropped, and the next one popped.
-- Returns {} when the queues are empty, else {chunk id, message, its key ('*' when the chunk
-- names none: its jobs are claimed only to fail them), first jid, count, claimed jids
-- "1,2,3", '1' if their submission is restartable else '0', the payload (false when large:
-- read it with GET), the key's record, its signature}.
local now, owner, expiry = ARGV[1], ARGV[2], ARGV[3]
local woken, again = ARGV[4], ARGV[5] == '1'
local BIG = 65536
local DROPPED_AT_MOST = 100

local function claim(chunk, retake)
  local ck = P .. 'chunkmsg:' .. chunk
  local first, count, key, message, progress, restartable, payload = unpack(redis.call('HMGET',
    ck, 'first', 'count', 'key', 'message', 'started', 'restartable', 'payload'))
  if not first then return nil end
  key = key or '*'
  local last_started = tonumber(progress) or 0
  local claimed = {}
  for j = tonumber(first), tonumber(first) + tonumber(count) - 1 do
    local k = P .. 'job:' .. j
    local st, job_key, worker = unpack(redis.call('HMGET', k, 'status', 'owner', 'worker'))
    if st == 'queued' and visible(job_key, key) then
      redis.call('HSET', k, 'status', 'processing', 'started', now, 'worker', owner)
      note(j, 'processing', nil)
      claimed[#claimed + 1] = j
    elseif retake and st == 'processing' and worker == owner and j > last_started then
      claimed[#claimed + 1] = j
    end
  end
  if #claimed == 0 then return nil end
  if not restartable then  -- a chunk queued before its hash said
    local b = redis.call('HGET', P .. 'job:' .. claimed[1], 'batch')
    restartable = redis.call('HGET', P .. 'batch:' .. b, 'restartable') or '1'
  end
  redis.call('ZADD', P .. 'leases', expiry, chunk)
  if not retake then redis.call('HSET', ck, 'owner', owner, 'started', 0) end
  redis.call('HSET', P .. 'holding', owner, chunk)
  if not payload then  -- stored apart (large): read here only when small after all
    local pk = P .. 'chunk:' .. chunk
    payload = redis.call('STRLEN', pk) < BIG and redis.call('GET', pk)
  end
  local record, sig = false, false
  if key ~= '*' then
    record, sig = unpack(redis.call('HMGET', P .. 'apikey:' .. key, 'record', 'sig'))
  end
  flush(now)
  return {chunk, message or '', key, first, count, table.concat(claimed, ','), restartable,
    payload or false, record or false, sig or false}
end

if again then
  local held = redis.call('HGET', P .. 'holding', owner)
  if held and redis.call('ZSCORE', P .. 'leases', held) and
      redis.call('HGET', P .. 'chunkmsg:' .. held, 'owner') == owner then
    local taken = claim(held, true)
    if taken then return taken end
  end
end

for i = 6, #ARGV do
  local queue = ARGV[i]
  local popped, taken = 0, nil
  while not taken and popped < DROPPED_AT_MOST do
    local top = redis.call('ZPOPMIN', P .. 'queue:' .. queue)
    if #top == 0 then break end
    popped = popped + 1
    taken = claim(top[1], false)
  end
  -- a token goes with each chunk popped, but for the one that woke this process (spent)
  local tokens = (queue == woken) and popped - 1 or popped
  if tokens > 0 then redis.call('LPOP', P .. 'bell:' .. queue, tokens) end
  if taken then return taken end
  if popped == DROPPED_AT_MOST then return {} end  -- more may wait: it comes back at once
end
return {}
