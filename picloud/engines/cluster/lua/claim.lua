-- A worker starts a chunk. ARGV: now, owner, first, count, lease expiry, chunk id
-- Returns a flat list: jid, 'claimed' | 'busy', current owner (for busy).
local now, owner, first, count = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
for j = first, first + count - 1 do
  local k = P .. 'job:' .. j
  local st = redis.call('HGET', k, 'status')
  if st == 'queued' then
    redis.call('HSET', k, 'status', 'processing', 'started', now, 'worker', owner)
    redis.call('HINCRBY', k, 'attempts', 1)
    record(j, 'processing')
    out[#out + 1] = j; out[#out + 1] = 'claimed'; out[#out + 1] = ''
  elseif st == 'processing' and redis.call('HGET', k, 'worker') ~= owner then
    out[#out + 1] = j; out[#out + 1] = 'busy'; out[#out + 1] = redis.call('HGET', k, 'worker')
  end
end
if #out > 0 then
  redis.call('ZADD', P .. 'leases', ARGV[5], ARGV[6])
  redis.call('HSET', P .. 'chunkmsg:' .. ARGV[6], 'owner', owner)
end
flush(now)
return out
