-- A worker reports finished jobs. ARGV: now, owner, chunk id ('' while more follow), then two
-- per job: "jid status started runtime flags[ max_rss cpu_user cpu_system mem_failed]", then
-- the result (done) or error text; a third, the profile text, when flags has 1. Flags 2: the
-- result is large and was staged by the same pipeline (pc:staged:<jid>:<owner>, the body is
-- ''): it is renamed to pc:result:<jid>, not copied through Lua, and the job's hash keeps no
-- result field. Each reported job is charged its attempt; what it used (bytes, seconds) is
-- kept when measured, in the field ``used`` as "max_rss cpu_user cpu_system mem_failed".
local now, owner, chunk = ARGV[1], ARGV[2], ARGV[3]
local LOST = 'The job\'s result was lost by the broker (a restart) before it was stored'
local i = 4
while i <= #ARGV do
  local j, status, started, runtime, flags, used =
    string.match(ARGV[i], '^(%d+) (%a+) (%S+) (%S+) (%d)(.*)$')
  local body = ARGV[i + 1]
  local profile = nil
  i = i + 2
  flags = tonumber(flags)
  if flags % 2 == 1 then profile = ARGV[i]; i = i + 1 end
  local staged = flags >= 2 and (P .. 'staged:' .. j .. ':' .. owner)
  local k = P .. 'job:' .. j
  local current, holder, reply, children, attempts =
    unpack(redis.call('HMGET', k, 'status', 'worker', 'reply', 'children', 'attempts'))
  if current == 'processing' and holder == owner then
    if staged and redis.call('EXISTS', staged) == 0 then
      status, body, staged = 'error', LOST, false
    end
    local values = {'status', status, 'finished', now, 'started', started, 'runtime', runtime,
      'attempts', (tonumber(attempts) or 0) + 1}
    if status ~= 'done' then
      values[#values + 1] = 'exception'; values[#values + 1] = body
    elseif staged then
      redis.call('RENAME', staged, P .. 'result:' .. j)
      redis.call('PERSIST', P .. 'result:' .. j)
    else
      values[#values + 1] = 'result'; values[#values + 1] = body
    end
    if profile then values[#values + 1] = 'profile'; values[#values + 1] = profile end
    if used ~= '' then values[#values + 1] = 'used'; values[#values + 1] = string.sub(used, 2) end
    redis.call('HSET', k, unpack(values))
    settled(j, status, now, reply, children)
    if status == 'done' and not staged then carry(reply, j, body) end
  elseif staged then  -- not this run's to store any more (handed on, or reported already)
    redis.call('DEL', staged)
  end
end
if chunk ~= '' then redis.call('ZREM', P .. 'leases', chunk) end
flush(now)
return 1
