-- A worker reports finished jobs. ARGV: now, owner, chunk id ('' while more follow), then two
-- per job: "jid status started runtime has_profile[ max_rss cpu_user cpu_system mem_failed]",
-- then the result (done) or error text; a third, the profile text, when has_profile is 1. Each
-- reported job is charged its attempt; what it used (bytes, seconds) is kept when measured, in
-- the field ``used`` as "max_rss cpu_user cpu_system mem_failed".
local now, owner, chunk = ARGV[1], ARGV[2], ARGV[3]
local i = 4
while i <= #ARGV do
  local j, status, started, runtime, has_profile, used =
    string.match(ARGV[i], '^(%d+) (%a+) (%S+) (%S+) (%d)(.*)$')
  local body = ARGV[i + 1]
  local profile = nil
  i = i + 2
  if has_profile == '1' then profile = ARGV[i]; i = i + 1 end
  local k = P .. 'job:' .. j
  local current, holder, reply, children, attempts =
    unpack(redis.call('HMGET', k, 'status', 'worker', 'reply', 'children', 'attempts'))
  if current == 'processing' and holder == owner then
    local field = (status == 'done') and 'result' or 'exception'
    local values = {'status', status, 'finished', now, 'started', started, 'runtime', runtime,
      field, body, 'attempts', (tonumber(attempts) or 0) + 1}
    if profile then values[#values + 1] = 'profile'; values[#values + 1] = profile end
    if used ~= '' then values[#values + 1] = 'used'; values[#values + 1] = string.sub(used, 2) end
    redis.call('HSET', k, unpack(values))
    settled(j, status, now, reply, children)
    if status == 'done' then carry(reply, j, body) end
  end
end
if chunk ~= '' then redis.call('ZREM', P .. 'leases', chunk) end
flush(now)
return 1
