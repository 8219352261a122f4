-- wrk script for every bench scenario. Configured by environment variables (bench/loadgen.py
-- sets them), so one script serves GET pages and form POSTs alike:
--   BENCH_THREADS          wrk's -t (each thread takes its own share of paths, bodies, sessions)
--   BENCH_METHOD           GET or POST
--   BENCH_PATHS_FILE       paths to request in turn (one a line); else the URL's own path
--   BENCH_COOKIE           Cookie header (session and CSRF cookies)
--   BENCH_CSRF             CSRF token added to every POST body
--   BENCH_SESSIONS_FILE    "cookie<TAB>csrf" lines, shared out among the threads (else BENCH_COOKIE)
--   BENCH_POSTS_PER_SESSION  with a sessions file: a thread moves to its next session after
--                          this many requests (0: it keeps its first)
--   BENCH_BODIES_FILE      one urlencoded body per request, each used once (fresh access codes)
--   BENCH_INVITE_TAG       POST an invitation form with a new address each time
--   BENCH_EXPECT           the status every response must have (200, 302)
--   BENCH_EXPECT_LOCATION  text a 302's Location must contain
--   BENCH_MAX_PER_THREAD   responses after which a thread stops (0: none)
-- done() prints one line, "BENCH_JSON {...}", that the driver reads.

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("tid", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

local function read_lines(path)
   local lines = {}
   if path == nil or path == "" then return lines end
   local handle = assert(io.open(path, "r"))
   for line in handle:lines() do
      if line ~= "" then table.insert(lines, line) end
   end
   handle:close()
   return lines
end

local function share(lines, k, n)
   local mine = {}
   for i, line in ipairs(lines) do
      if (i - 1) % n == k then table.insert(mine, line) end
   end
   return mine
end

function init(args)
   nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
   method = os.getenv("BENCH_METHOD") or "GET"
   expect = tonumber(os.getenv("BENCH_EXPECT") or "200")
   expect_location = os.getenv("BENCH_EXPECT_LOCATION") or ""
   max_per_thread = tonumber(os.getenv("BENCH_MAX_PER_THREAD") or "0")
   invite_tag = os.getenv("BENCH_INVITE_TAG") or ""
   cookie = os.getenv("BENCH_COOKIE") or ""
   csrf = os.getenv("BENCH_CSRF") or ""
   per_session = tonumber(os.getenv("BENCH_POSTS_PER_SESSION") or "0")
   local sessions = read_lines(os.getenv("BENCH_SESSIONS_FILE"))
   my_sessions = share(sessions, tid % nthreads, nthreads)
   if #my_sessions == 0 and #sessions > 0 then
      my_sessions = {sessions[(tid % #sessions) + 1]}
   end
   paths = share(read_lines(os.getenv("BENCH_PATHS_FILE")), tid % nthreads, nthreads)
   if #paths == 0 then
      paths = read_lines(os.getenv("BENCH_PATHS_FILE"))
   end
   bodies = share(read_lines(os.getenv("BENCH_BODIES_FILE")), tid, nthreads)
   use_bodies = os.getenv("BENCH_BODIES_FILE") ~= nil and os.getenv("BENCH_BODIES_FILE") ~= ""
   next_path = 1
   next_body = 1
   sent = 0
   responses = 0
   unexpected = 0
   exhausted = 0
   ran_out = 0
   first_bad = ""
end

local function use_session(n)
   if #my_sessions == 0 then return end
   local index = 1
   if per_session > 0 then
      index = math.min(math.floor(n / per_session) + 1, #my_sessions)
   end
   cookie, csrf = my_sessions[index]:match("^(.-)\t(.*)$")
end

function request()
   use_session(sent)
   local path = wrk.path
   if #paths > 0 then
      path = paths[next_path]
      next_path = next_path % #paths + 1
   end
   local headers = {}
   if cookie ~= "" then headers["Cookie"] = cookie end
   if method ~= "POST" then
      return wrk.format("GET", path, headers, nil)
   end
   local body
   if use_bodies then
      body = bodies[next_body]
      if body == nil then
         -- Ran out of fresh codes: send the last one again; it fails, and the run says so.
         exhausted = exhausted + 1
         body = bodies[#bodies] or ""
      end
      next_body = next_body + 1
   elseif invite_tag ~= "" then
      body = string.format(
         "email=invitee-%s-%d-%d%%40invite.bench.example&name=Bench+Invitee&message=Welcome",
         invite_tag, tid, sent + 1)
   else
      body = ""
   end
   sent = sent + 1
   headers["Content-Type"] = "application/x-www-form-urlencoded"
   return wrk.format("POST", path, headers, "csrfmiddlewaretoken=" .. csrf .. "&" .. body)
end

function response(status, headers, body)
   responses = responses + 1
   local ok = status == expect
   if ok and expect_location ~= "" then
      local location = headers["Location"] or headers["location"] or ""
      ok = string.find(location, expect_location, 1, true) ~= nil
   end
   if not ok then
      unexpected = unexpected + 1
      if first_bad == "" then
         first_bad = tostring(status) .. " " .. (headers["Location"] or "")
      end
   end
   if max_per_thread > 0 and responses >= max_per_thread then
      wrk.thread:stop()
   end
   -- Keep a few fresh codes for the requests still in flight on this thread's connections.
   if use_bodies and next_body > #bodies - 8 then
      ran_out = 1
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local unexpected_total, exhausted_total, ran_out_total, first = 0, 0, 0, ""
   for _, thread in ipairs(threads) do
      unexpected_total = unexpected_total + (thread:get("unexpected") or 0)
      exhausted_total = exhausted_total + (thread:get("exhausted") or 0)
      ran_out_total = ran_out_total + (thread:get("ran_out") or 0)
      local bad = thread:get("first_bad") or ""
      if first == "" and bad ~= "" then first = bad end
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
      '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "errors": {"connect": %d, "read": %d, ' ..
      '"write": %d, "status": %d, "timeout": %d}, "unexpected": %d, "exhausted": %d, ' ..
      '"ran_out": %d, "first_bad": "%s"}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean, errors.connect, errors.read,
      errors.write, errors.status, errors.timeout, unexpected_total, exhausted_total,
      ran_out_total, (first:gsub('[%c"\\]', "?"))))
end
