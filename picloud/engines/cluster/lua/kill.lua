-- ARGV: now, jids... Kills every unfinished one; running ones are announced on the kill
-- channel so their worker stops them. Returns the jids that were running.
local now = ARGV[1]
local running = {}
for i = 2, #ARGV do
  local j = ARGV[i]
  local st = redis.call('HGET', P .. 'job:' .. j, 'status')
  if st == 'processing' then
    running[#running + 1] = j
    finish(j, 'killed', now, 'Job terminated by user')
  elseif st == 'waiting' or st == 'queued' then
    finish(j, 'killed', now, nil)
  end
end
for _, j in ipairs(running) do redis.call('PUBLISH', P .. 'kill', j) end
flush(now)
return running
