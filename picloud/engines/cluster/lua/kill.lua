-- ARGV: now, jids... Kills every unfinished one: first those not yet running (so a job killed
-- with its parent ends killed, not stalled), then the running ones, which are announced on the
-- kill channel so their worker stops them. ARGV: now, jids... (the caller checked that they are
-- its key's). Returns the jids that were running.
local now = ARGV[1]
local running = {}
for i = 2, #ARGV do
  local st = redis.call('HGET', P .. 'job:' .. ARGV[i], 'status')
  if st == 'waiting' or st == 'queued' then
    finish(ARGV[i], 'killed', now, nil)
  elseif st == 'processing' then
    running[#running + 1] = ARGV[i]
  end
end
for _, j in ipairs(running) do
  finish(j, 'killed', now, 'Job terminated by user')
  redis.call('PUBLISH', P .. 'kill', j)
end
flush(now)
return running
