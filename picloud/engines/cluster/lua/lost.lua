-- The sandbox that ran job ARGV[3] died (ARGV: now, owner, jid, what happened, max attempts,
-- '1' if the job was running then, '0' if it had ended but its result was not yet sent); its
-- supervisor lives on and runs the job again itself when it may.
-- Returns 1 if the job is to run again (charged an attempt, still processing), 0 if it was
-- failed naming the loss, -1 if `owner` no longer holds it.
local now, owner, j, why, max_attempts = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local died = ARGV[6] == '1'
local st, holder = unpack(redis.call('HMGET', P .. 'job:' .. j, 'status', 'worker'))
if st ~= 'processing' or holder ~= owner then return -1 end
local again = charge_lost(j, owner, why, died, max_attempts, now)
flush(now)
return again and 1 or 0
