-- A worker's main process renews the leases of the chunks its pool processes run, and records
-- each one's progress (its last started job) for whoever hands it on. ARGV: lease expiry, then
-- per pool process: owner, the first jid of the chunk its slot says it runs, its last started
-- job (0: none yet). A chunk is renewed only while its holder's slot names it (a process that
-- gave a chunk up, or lost the reply to its take, lets its lease run out).
-- Returns how many leases were renewed.
local expiry, renewed = ARGV[1], 0
for i = 2, #ARGV, 3 do
  local chunk = redis.call('HGET', P .. 'holding', ARGV[i])
  if chunk then
    local ck = P .. 'chunkmsg:' .. chunk
    if redis.call('HGET', ck, 'first') == ARGV[i + 1] then
      renewed = renewed + redis.call('ZADD', P .. 'leases', 'XX', 'CH', expiry, chunk)
      if ARGV[i + 2] ~= '0' then redis.call('HSET', ck, 'started', ARGV[i + 2]) end
    end
  end
end
return renewed
