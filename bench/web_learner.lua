-- The learner page load of the web benchmark (bench/web.py), driven by wrk: the same mix as the
-- LearnerPage user of bench/web_load.py, at a fraction of Locust's CPU per request.
--
--   wrk -t T -c C -d Ds -s bench/web_learner.lua URL -- <learners.tsv> <requests/s, 0: flat out> <C> <T> <warm-up s>
--
-- learners.tsv: one launch a line: launch id, page path, cookie name, cookie value, marker (what
-- only this learner's page shows: the share-form token of a badge earned, or the email a badge
-- still open will be sent to; empty for other states).
--
-- Each client is a learner's browser that views its page six times (the issue's 300 views/s for
-- 50 launches/s), one view after the other, then another learner's, picked at random. wrk gives one
-- Lua state per thread, not per connection, and a response cannot be matched to its request (the
-- thread's connections answer in any order), so a browser is a slot: a request takes the next slot
-- that has no view in flight, and the answer frees the slot of the launch it names (its links
-- carry the launch id; a slot whose answer never came, a cut connection, is freed after 30 s).
-- Twice as many slots as connections, so a free one is always at hand. As with Locust, a launch's
-- second view is sent only after its first was answered: only a launch's first view can find the
-- page not kept. Each answer is checked: that launch's marker must be on the page, else it counts as
-- a failure.
--
-- Pacing (wrk has no constant-rate mode and Debian has no wrk2): delay() gives each request a
-- send time on a fixed schedule of rate/T per thread (the clock: clock_gettime through LuaJIT's
-- FFI); a request whose time has passed (every connection was busy) goes at once, and the
-- schedule does not catch up in a burst. wrk measures latency from the moment a request is sent,
-- as Locust does.
--
-- Warm-up in the same run: the first <warm-up s> seconds are load but not figures. A new wrk run
-- starts its C clients at once, each with a launch's first view (the page not kept yet), a burst no
-- steady load has; as wrk2 leaves out its calibration seconds, the figures here (count, p50, p99,
-- rate) are those of the requests sent after the warm-up, timed by this script (send to answer,
-- per slot). wrk's own p50/p99 of the whole run, burst included, are printed beside them.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } sfb_timespec;
int clock_gettime(int clk_id, sfb_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local ts = ffi.new("sfb_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local VIEWS_PER_LAUNCH = 6
local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("number", thread_count)
  table.insert(threads, thread)
end

local launches, marker_of = {}, {}
local slots, slot_views, busy_since, slot_of, turn = {}, {}, {}, {}, 0
local STUCK_MS = 30000
local interval_ms, next_send = 0, nil
local measured_from = nil -- monotonic ms: requests sent from then on are timed
failures, checked = 0, 0
latencies_us = {} -- of this thread's timed requests (read by done())
window_first, window_last = 0, 0 -- send time of the first timed request, answer time of the last

function init(args)
  for line in io.lines(args[1]) do
    local id, path, cookie, key, marker = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
    if id then
      table.insert(launches, { id = id, path = path, cookie = cookie .. "=" .. key })
      marker_of[id] = marker
    end
  end
  -- args: learners.tsv, requests/s (0: flat out), clients (connections), threads, warm-up seconds
  local rate, clients, thread_total = tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
  measured_from = now_ms() + 1000 * (tonumber(args[5]) or 0)
  slots.count = 2 * math.max(1, math.ceil(clients / thread_total))
  math.randomseed(os.time() * 100 + number)
  -- Each browser starts at a random view of its six (learners do not click in lockstep): requests
  -- go to the slots in turn, so slots all starting at their first view would make every sixth
  -- stretch of a hundred requests all first views, and the rest all kept pages.
  for i = 1, slots.count do
    slot_views[i] = math.random(0, VIEWS_PER_LAUNCH - 1)
  end
  if rate > 0 then
    interval_ms = 1000 * thread_total / rate
  end
end

function delay()
  if interval_ms == 0 then
    return 0
  end
  local now = now_ms()
  if next_send == nil or next_send < now then
    next_send = now
  end
  local wait = next_send - now
  next_send = next_send + interval_ms
  return math.floor(wait)
end

local function free_slot()
  local now = now_ms()
  for _ = 1, slots.count do
    turn = turn % slots.count + 1
    local since = busy_since[turn]
    if since == nil or now - since > STUCK_MS then
      busy_since[turn] = now
      return turn
    end
  end
  return turn -- every slot in flight (cannot happen with twice as many slots as connections)
end

local function in_flight(launch)
  local slot = slot_of[launch.id]
  return slot ~= nil and slots[slot] == launch and busy_since[slot] ~= nil
end

function request()
  local slot = free_slot()
  if slots[slot] == nil or slot_views[slot] % VIEWS_PER_LAUNCH == 0 then
    -- Another learner's browser: not one whose view is in flight in another slot (a browser shows
    -- one view at a time, and the answer could not be told apart).
    local launch = launches[math.random(#launches)]
    for _ = 1, 20 do
      if not in_flight(launch) then
        break
      end
      launch = launches[math.random(#launches)]
    end
    slots[slot] = launch
  end
  slot_views[slot] = slot_views[slot] + 1
  local launch = slots[slot]
  slot_of[launch.id] = slot
  return wrk.format("GET", launch.path, {
    ["X-Forwarded-Proto"] = "https",
    ["X-Forwarded-For"] = "203.0.113.9",
    ["Cookie"] = launch.cookie,
  })
end

function response(status, headers, body)
  checked = checked + 1
  if status ~= 200 or body == nil then
    failures = failures + 1
    return
  end
  local id = body:match('/l/([%w_%-]+)/')
  local slot = id and slot_of[id]
  if slot then
    local sent = busy_since[slot]
    if sent ~= nil and sent >= measured_from then
      local now = now_ms()
      if window_first == 0 or sent < window_first then
        window_first = sent
      end
      window_last = math.max(window_last, now)
      table.insert(latencies_us, math.floor((now - sent) * 1000))
    end
    busy_since[slot] = nil
  end
  local marker = id and marker_of[id]
  if marker == nil or (marker ~= "" and not body:find(marker, 1, true)) then
    failures = failures + 1
  end
end

local function percentile(sorted, p)
  if #sorted == 0 then
    return 0
  end
  return sorted[math.max(1, math.ceil(#sorted * p / 100))]
end

function done(summary, latency, requests)
  local failed, seen, timed, first, last = 0, 0, {}, nil, 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failures")
    seen = seen + thread:get("checked")
    for _, us in ipairs(thread:get("latencies_us")) do
      table.insert(timed, us)
    end
    local from, to = thread:get("window_first"), thread:get("window_last")
    if from > 0 and (first == nil or from < first) then
      first = from
    end
    last = math.max(last, to)
  end
  table.sort(timed)
  local window_us = first and math.floor((last - first) * 1000) or 0
  local errors = summary.errors
  io.write(string.format(
    "SFB requests=%d duration_us=%d checked=%d failures=%d connect=%d read=%d write=%d status=%d timeout=%d "
      .. "p50_us=%d p99_us=%d run_requests=%d run_duration_us=%d run_p50_us=%d run_p99_us=%d\n",
    #timed, window_us, seen, failed, errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    percentile(timed, 50), percentile(timed, 99), summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99)
  ))
end
