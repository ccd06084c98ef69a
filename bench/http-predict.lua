-- wrk script for bench/http-predict.sh: POST /tasks/task-N/predict at a fixed total rate.
--
-- Debian's wrk 4.1 has no rate option (wrk2's -R), so each wrk thread keeps its own schedule of
-- send times, RATE / threads apart, and delay() holds a connection until the next free slot of its
-- thread's schedule. With a pool of connections that are idle most of the time the schedule does
-- not wait for answers (open loop); a connection still waiting for an answer just leaves the slot to
-- another. wrk times each request from its first byte written to its last byte read.
--
-- Environment: RATE (total requests/s), TASKS (task-0 .. task-(TASKS-1), asked in turn from a
-- random start per thread), TOKEN (the Authorization bearer token), REPORT (a JSON file for done()).
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } metastream_timespec;
  int clock_gettime(int clk_id, metastream_timespec *tp);
]]
local ts = ffi.new("metastream_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local interval, next_at, task, tasks, headers

function init(args)
  local rate = tonumber(os.getenv("RATE") or "500")
  local nthreads = tonumber(os.getenv("THREADS") or "1")
  tasks = tonumber(os.getenv("TASKS") or "1000")
  interval = 1000.0 * nthreads / rate
  math.randomseed(1234 + id)
  task = math.random(0, tasks - 1)
  headers = { ["Content-Type"] = "application/json" }
  local token = os.getenv("TOKEN")
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  next_at = now_ms()
end

function delay()
  next_at = next_at + interval
  local now = now_ms()
  if next_at < now - 1000 then
    -- More than a second behind (every connection was waiting, or the client itself stalled):
    -- drop the missed slots rather than send a second's worth at once.
    next_at = now
  end
  return math.max(0, next_at - now)
end

function request()
  task = (task + 1) % tasks
  local body = string.format('{"features":[%.4f]}', math.random() * 10 - 5)
  return wrk.format("POST", "/tasks/task-" .. task .. "/predict", headers, body)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  local out = string.format(
    '{"requests": %d, "seconds": %.3f, "rate": %.1f, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}, "latency_us": {"min": %d, "mean": %.1f, "stdev": %.1f, "max": %d, ' ..
    '"p50": %d, "p90": %d, "p99": %d, "p999": %d}}',
    summary.requests, seconds, summary.requests / seconds, e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9))
  io.write("wrk-json " .. out .. "\n")
  local path = os.getenv("REPORT")
  if path and path ~= "" then
    local f = io.open(path, "w")
    f:write(out .. "\n")
    f:close()
  end
end
