-- One publish, atomically (Redis runs a script alone): number the message,
-- stamp it, keep it in the topic's stream within the bounds, announce it.
--
-- KEYS[1] tinypush:{news}:id      the topic's counter
-- KEYS[2] tinypush:{news}:stream  its history: entry id "42-0", fields t (time) and d (body)
-- KEYS[3] tinypush:{news}:meta    bytes held, last time
-- ARGV    body, node, floor, most messages, most bytes, ttl in ms, channel, topic
-- returns {id, time}
--
-- floor: the last id the publishing node has seen of this topic. If Redis
-- lost its data, INCR starts again at 1; the floor keeps ids going forward.

local body, node, floor = ARGV[1], ARGV[2], tonumber(ARGV[3])
local max_count, max_bytes, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])

-- Above the counter, the node's floor, and the stream's last id (a stream
-- outlives a counter someone deleted): XADD refuses an id not above it.
local id = redis.call('INCR', KEYS[1])
local top = 0
if redis.call('EXISTS', KEYS[2]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[2])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      top = tonumber(string.match(info[i + 1], '^(%d+)')) or 0
    end
  end
end
if id <= floor or id <= top then
  id = math.max(floor, top) + 1
  redis.call('SET', KEYS[1], id)
end
-- Integers in full: Lua's default number format cuts them at 14 digits.
local id_text, time_text

-- Redis's clock, the same for every node; never earlier than the last message.
local now = redis.call('TIME')
local time = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local last = tonumber(redis.call('HGET', KEYS[3], 'time') or '0')
if time < last then time = last end

id_text, time_text = string.format('%d', id), string.format('%d', time)
redis.call('XADD', KEYS[2], id_text .. '-0', 't', time_text, 'd', body)
local count = redis.call('XLEN', KEYS[2])
local bytes = tonumber(redis.call('HGET', KEYS[3], 'bytes') or '0') + #body

-- The oldest go while past a bound (the newest stays over the byte cap).
for _ = 1, 1000 do
  local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  if not oldest then break end
  local fields = oldest[2]
  local otime, olen = tonumber(fields[2]) or 0, #(fields[4] or '')
  if count > max_count or (bytes > max_bytes and count > 1) or time - otime > ttl then
    redis.call('XDEL', KEYS[2], oldest[1])
    count, bytes = count - 1, bytes - olen
  else
    break
  end
end
redis.call('HSET', KEYS[3], 'bytes', bytes, 'time', time_text)
-- A topic no one publishes to any more leaves only its counter behind.
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)

-- Every node's listener gets: node, topic, id, time, then the body.
redis.call('PUBLISH', ARGV[7], node .. '\n' .. ARGV[8] .. '\n' .. id_text .. '\n' .. time_text .. '\n' .. body)
return {id, time}
