-- Shared by every picloud script (see scripts.py): job state transitions in one atomic step,
-- dependency release/stall, ledger events and finish notices.
local P = 'pc:'
local FINISHED = {done = true, error = true, killed = true, stalled = true}
local FAILED = {error = true, killed = true, stalled = true}
-- one letter per status in the compact replies of statuses.lua and results.lua
local LETTER = {waiting = 'w', queued = 'q', processing = 'p', done = 'd', error = 'e',
  killed = 'k', stalled = 's'}
-- whether a job hash's owner lets `who` see it ('*' = the admin sees every key's jobs)
local function visible(owner, who)
  return who == '*' or owner == who
end

-- ARGV[first..] as jids: each a jid or a run 'first-last' of them (a map's jids travel as one)
local function argv_jids(first)
  local jids = {}
  for i = first, #ARGV do
    local lo, hi = string.match(ARGV[i], '^(%d+)-(%d+)$')
    if lo then
      for j = tonumber(lo), tonumber(hi) do jids[#jids + 1] = j end
    else
      jids[#jids + 1] = ARGV[i]
    end
  end
  return jids
end

-- for scripts acting on finished jobs (ARGV[first..] are jids): {'missing', jid} for an unknown
-- one or another key's, {'unfinished', jid...} if some have not finished, else nil
local function refuse_unfinished(who, first)
  local unfinished = {}
  for i = first, #ARGV do
    local st, owner = unpack(redis.call('HMGET', P .. 'job:' .. ARGV[i], 'status', 'owner'))
    if not st or not visible(owner, who) then return {'missing', ARGV[i]} end
    if not FINISHED[st] then unfinished[#unfinished + 1] = ARGV[i] end
  end
  if #unfinished > 0 then
    table.insert(unfinished, 1, 'unfinished')
    return unfinished
  end
  return nil
end

local events = {}   -- status -> list of jids, one ledger event per status
local notices = {}  -- reply list -> list of finished jids
local carried = {}  -- reply list -> {jid, result} of a done job whose result rides its notice
-- results at most this large ride the notice of a job that is alone in it (the client then
-- reads nothing more)
local CARRIED_BYTES = 1024

-- a status change for the ledger; a finished one is also noticed on `reply` (if given)
local function note(jid, status, reply)
  local list = events[status]
  if not list then list = {}; events[status] = list end
  list[#list + 1] = jid
  if reply and FINISHED[status] then
    local nl = notices[reply]
    if not nl then nl = {}; notices[reply] = nl end
    nl[#nl + 1] = jid .. ':' .. status
  end
end

-- job `jid` noticed on `reply` is done with `result`: it rides the notice if it is alone there
local function carry(reply, jid, result)
  if reply and #result <= CARRIED_BYTES then carried[reply] = {tostring(jid), result} end
end

local function record(jid, status)
  local reply = FINISHED[status] and redis.call('HGET', P .. 'job:' .. jid, 'reply')
  note(jid, status, reply)
end

-- "1-5,9": sorted jids folded into ranges (they come mostly in order: sorted only if not)
local function ranges(jids)
  local sorted = true
  for i, v in ipairs(jids) do
    jids[i] = tonumber(v)
    if sorted and i > 1 and jids[i] < jids[i - 1] then sorted = false end
  end
  if not sorted then table.sort(jids) end
  local out, first, last = {}, nil, nil
  for _, j in ipairs(jids) do
    if first and j == last + 1 then
      last = j
    else
      if first then out[#out + 1] = (first == last) and tostring(first) or (first .. '-' .. last) end
      first, last = j, j
    end
  end
  if first then out[#out + 1] = (first == last) and tostring(first) or (first .. '-' .. last) end
  return table.concat(out, ',')
end

local function flush(now)
  for status, jids in pairs(events) do
    redis.call('XADD', P .. 'events', 'MAXLEN', '~', 1000000, '*',
      'status', status, 'jids', ranges(jids), 'time', now)
  end
  for reply, jids in pairs(notices) do
    local one = carried[reply]
    if #jids == 1 and one and jids[1] == one[1] .. ':done' then
      redis.call('LPUSH', reply, '=' .. one[1] .. ':' .. one[2])
    else
      redis.call('LPUSH', reply, table.concat(jids, ','))
    end
    redis.call('EXPIRE', reply, 86400)
  end
end

-- The queues pool processes take chunks from (workers/consumer.py, take.lua): per queue a
-- sorted set of chunk ids, lowest score first: the priority (0 first), then the order of
-- submission (the chunk's first jid), a chunk handed on going ahead of its priority's others;
-- and a list of wake-up tokens, one per chunk added, that idle pool processes block on (BLPOP
-- wakes one of them).
local SPAN, MIDDLE = 1e14, 5e13
local function enqueue(queue, priority, chunk, first, head)
  local order = head and (MIDDLE - first) or (MIDDLE + first)
  local added = redis.call('ZADD', P .. 'queue:' .. queue, tonumber(priority) * SPAN + order, chunk)
  if added == 1 then redis.call('LPUSH', P .. 'bell:' .. queue, 1) end
end

-- chunk `chunk`, whose message is stored (chunkmsg), goes back to its queue
local function requeue(chunk, head)
  local queue, priority, first =
    unpack(redis.call('HMGET', P .. 'chunkmsg:' .. chunk, 'queue', 'priority', 'first'))
  if queue then enqueue(queue, priority or 0, chunk, tonumber(first) or 0, head) end
end

local function batch_jids(b)
  local start = tonumber(b)
  return start, start + tonumber(redis.call('HGET', P .. 'batch:' .. b, 'n')) - 1
end

local function release(b)
  redis.call('HSET', P .. 'batch:' .. b, 'state', 'released')
  local first, last = batch_jids(b)
  for j = first, last do
    local k = P .. 'job:' .. j
    if redis.call('HGET', k, 'status') == 'waiting' then
      redis.call('HSET', k, 'status', 'queued')
      record(j, 'queued')
    end
  end
  for _, chunk in ipairs(redis.call('LRANGE', P .. 'held:' .. b, 0, -1)) do
    requeue(chunk, false)
  end
  redis.call('DEL', P .. 'held:' .. b, P .. 'pending:' .. b)
end

-- every waiting job of batch b becomes stalled, naming the failed parent; returns them
local function stall(b, parent, pstatus, now, work)
  redis.call('HSET', P .. 'batch:' .. b, 'state', 'stalled')
  redis.call('DEL', P .. 'held:' .. b, P .. 'pending:' .. b)
  local msg = 'Could not start due to dependency erroring: job ' .. parent .. ' ended ' .. pstatus
  local first, last = batch_jids(b)
  for j = first, last do
    local k = P .. 'job:' .. j
    if redis.call('HGET', k, 'status') == 'waiting' then
      redis.call('HSET', k, 'status', 'stalled', 'finished', now, 'exception', msg)
      record(j, 'stalled')
      work[#work + 1] = {j, 'stalled'}
    end
  end
end

-- release or stall whatever waited on the jobs in `work` ({jid, status} pairs)
local function propagate(work, now)
  while #work > 0 do
    local item = table.remove(work)
    local parent, pstatus = item[1], item[2]
    local ck = P .. 'children:' .. parent
    local kids = redis.call('SMEMBERS', ck)
    if #kids > 0 then
      redis.call('DEL', ck)
      for _, b in ipairs(kids) do
        local bk = P .. 'batch:' .. b
        if redis.call('HGET', bk, 'state') == 'waiting' then
          if FAILED[pstatus] and redis.call('HGET', bk, 'deperr') == 'abort' then
            stall(b, parent, pstatus, now, work)
          else
            redis.call('SREM', P .. 'pending:' .. b, parent)
            if redis.call('SCARD', P .. 'pending:' .. b) == 0 then release(b) end
          end
        end
      end
    end
  end
end

-- a job has just been written finished: tell the ledger, its client and its dependents
local function settled(jid, status, now, reply, children)
  note(jid, status, reply)
  if children then propagate({{jid, status}}, now) end
end

-- end an unfinished job with `status`; false if it had finished already
local function finish(jid, status, now, exception)
  local k = P .. 'job:' .. jid
  local current, reply, children = unpack(redis.call('HMGET', k, 'status', 'reply', 'children'))
  if not current or FINISHED[current] then return false end
  if exception and exception ~= '' then
    redis.call('HSET', k, 'status', status, 'finished', now, 'exception', exception)
  else
    redis.call('HSET', k, 'status', status, 'finished', now)
  end
  settled(jid, status, now, reply, children)
  return true
end

-- job j, held by `owner`, ran but its process was lost (`why`; `died`: while it ran, else after
-- it ended but before its result was stored). It is charged an attempt; true if it may run
-- again (restartable, attempts left), else it has been failed naming the loss.
local function charge_lost(j, owner, why, died, max_attempts, now)
  local k = P .. 'job:' .. j
  local attempts = redis.call('HINCRBY', k, 'attempts', 1)
  local b = redis.call('HGET', k, 'batch')
  local restartable = redis.call('HGET', P .. 'batch:' .. b, 'restartable') == '1'
  if restartable and attempts < max_attempts then return true end
  local reason
  if died then
    reason = 'The worker running this job (' .. owner .. ') was lost: ' .. why
  else
    reason = 'The worker that ran this job (' .. owner .. ') was lost before the job\'s ' ..
      'result was stored: ' .. why
  end
  if restartable then
    reason = reason .. '. The job was run ' .. attempts .. ' times and its worker died each ' ..
      'time, so it was not run again'
  else
    reason = reason .. '; _restartable=False, so it was not run again'
  end
  finish(j, 'error', now, reason)
  return false
end
