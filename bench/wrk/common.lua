-- Shared by every bench script: auth headers from the environment, a per-thread random seed,
-- a UUID4 maker and a done() that prints one machine-readable summary line for bench/run.py.
--   BENCH_TOKEN   a JWT access token: sent as "Authorization: Bearer ..."
--   BENCH_COOKIE  a Cookie header value (the dashboard's session login)

local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
local cookie = os.getenv("BENCH_COOKIE")
if cookie and cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end

local threads_made = 0
function setup(thread)
  threads_made = threads_made + 1
  thread:set("thread_number", threads_made)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_number or 0) * 7919 + math.floor(os.clock() * 1e6))
end

local hex = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"}
local variant = {"8", "9", "a", "b"}

function uuid4()
  local digits = {}
  for i = 1, 32 do
    digits[i] = hex[math.random(1, 16)]
  end
  digits[13] = "4"
  digits[17] = variant[math.random(1, 4)]
  local s = table.concat(digits)
  return s:sub(1, 8) .. "-" .. s:sub(9, 12) .. "-" .. s:sub(13, 16) .. "-" .. s:sub(17, 20)
    .. "-" .. s:sub(21, 32)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
      .. '"max_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
