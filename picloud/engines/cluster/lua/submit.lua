-- ARGV: now, start (jids the client reserved with INCRBY), n, reply, owner, deperr,
--       restartable, meta, queue, priority, remember (a key that keeps "start,stop" for
--       remember_seconds, or ''), remember_seconds, ndeps, deps..., nchunks, then per chunk: count,
--       signed message (the chunk's spec, JSON), chunk id, its payload ('' when stored apart,
--       under pc:chunk:<id>)
-- Returns {'ok', start, status} or {'nodep', jid} (also for another key's job).
local now, start, n, reply, owner = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local deperr, restartable, meta, queue, priority = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local remember, remember_seconds = ARGV[11], ARGV[12]
local ndeps, i = tonumber(ARGV[13]), 14
local pending, failed = {}, nil
for _ = 1, ndeps do
  local dep = ARGV[i]; i = i + 1
  local st, dep_owner = unpack(redis.call('HMGET', P .. 'job:' .. dep, 'status', 'owner'))
  if not st or not visible(dep_owner, owner) then return {'nodep', dep} end
  if FAILED[st] then
    if deperr == 'abort' and not failed then failed = {dep, st} end
  elseif not FINISHED[st] then
    pending[#pending + 1] = dep
  end
end
local state = 'released'
if failed or #pending > 0 then state = 'waiting' end
local status = (state == 'waiting') and 'waiting' or 'queued'
redis.call('HSET', P .. 'batch:' .. start, 'n', n, 'state', state, 'deperr', deperr,
  'created', now, 'owner', owner, 'reply', reply, 'restartable', restartable, 'meta', meta)
local nchunks = tonumber(ARGV[i]); i = i + 1
local offset = 0
for _ = 1, nchunks do
  local count, message, chunk, payload = tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  i = i + 4
  local first = start + offset
  for j = first, first + count - 1 do
    redis.call('HSET', P .. 'job:' .. j, 'status', status, 'batch', start, 'chunk', chunk,
      'reply', reply, 'created', now, 'owner', owner)
    note(j, status, nil)
  end
  local fields = {'queue', queue, 'priority', priority, 'message', message, 'key', owner,
    'first', first, 'count', count, 'restartable', restartable}
  if payload ~= '' then fields[#fields + 1] = 'payload'; fields[#fields + 1] = payload end
  redis.call('HSET', P .. 'chunkmsg:' .. chunk, unpack(fields))
  if state == 'released' then
    enqueue(queue, priority, chunk, first, false)
  else
    redis.call('RPUSH', P .. 'held:' .. start, chunk)
  end
  offset = offset + count
end
if failed then
  local work = {}
  stall(start, failed[1], failed[2], now, work)
  propagate(work, now)
elseif #pending > 0 then
  for _, dep in ipairs(pending) do
    redis.call('SADD', P .. 'pending:' .. start, dep)
    redis.call('SADD', P .. 'children:' .. dep, start)
    redis.call('HSET', P .. 'job:' .. dep, 'children', 1)
  end
end
if remember ~= '' then
  redis.call('SET', remember, start .. ',' .. (start + n), 'EX', remember_seconds)
end
flush(now)
return {'ok', start, failed and 'stalled' or status}
