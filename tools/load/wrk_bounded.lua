-- wrk script for the load run (tests/load/test_load.py): bound each thread's requests, count statuses, and
-- print the figures as one JSON line (prefixed WRK_JSON) for the test to parse.
-- Arguments after `--`: the number of responses each thread stops after.
--
-- wrk's main thread sleeps for the whole --duration even when every thread has
-- stopped, so a thread says WRK_THREAD_DONE when it reaches its count and the
-- caller sends SIGINT once all have: wrk then stops at once and its duration is
-- the time the requests really took.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  limit = tonumber(args[1])
  responses, ok, client_errors, server_errors, other = 0, 0, 0, 0, 0
end

function response(status, headers, body)
  responses = responses + 1
  if status >= 500 then
    server_errors = server_errors + 1
  elseif status >= 400 then
    client_errors = client_errors + 1
  elseif status >= 200 and status < 300 then
    ok = ok + 1
  else
    other = other + 1
  end
  if responses == limit then
    io.write("WRK_THREAD_DONE\n")
    io.stdout:flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local totals = { responses = 0, ok = 0, client_errors = 0, server_errors = 0, other = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"responses": %d, "ok": %d, "client_errors": %d, "server_errors": %d, "other": %d, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, "non_2xx_3xx": %d, ' ..
    '"latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p95": %d, "p99": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    totals.responses, totals.ok, totals.client_errors, totals.server_errors, totals.other,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99)))
end
