-- wrk script: walk a list of paths, each asked once, over all of wrk's connections.
-- Arguments after `--`: the file of paths (one a line), the Cookie header ("" for none), and
-- a cheap path asked (not counted) when the list has run out.
-- Run with one wrk thread (-t 1): one list, shared by its connections.
-- Prints one line, "walk {json}": answers, errors (status not 200, or a body that is not JSON or
-- HTML, or a socket error), elapsed seconds from the first request to the last answer, whether
-- the list ran out, and wrk's latency percentiles in milliseconds.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } walk_timespec;
int clock_gettime(int clock, walk_timespec *tp);
]]
local clock = ffi.new("walk_timespec")
local function now()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) / 1e9
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  if args[2] ~= nil and args[2] ~= "" then
    wrk.headers["Cookie"] = args[2]
  end
  idle = args[3]
  count, asked, answered, errors, exhausted = #paths, 0, 0, 0, false
  started, last = now(), now()
end

function request()
  if asked >= #paths then
    -- the list is asked: stop here rather than ask a question twice; answers still on their
    -- way are not counted, nor is the time they take
    exhausted = true
    wrk.thread:stop()
    return wrk.format("GET", idle)
  end
  asked = asked + 1
  return wrk.format("GET", paths[asked])
end

function response(status, headers, body)
  if exhausted then
    return
  end
  answered = answered + 1
  last = now()
  local first = body:match("^%s*(.)")
  if status ~= 200 or (first ~= "{" and first ~= "<" and first ~= "[") then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local t = threads[1]
  local e = summary.errors
  local sockets = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    'walk {"questions": %d, "answered": %d, "errors": %d, "socket_errors": %d, "seconds": %.3f, '
      .. '"exhausted": %s, "p50_ms": %.2f, "p99_ms": %.2f}\n',
    t:get("count"), t:get("answered"), t:get("errors"), sockets, t:get("last") - t:get("started"),
    tostring(t:get("exhausted")), latency:percentile(50) / 1000, latency:percentile(99) / 1000
  ))
end
