-- Mixed Contacts traffic with a ledger, for benches/load/soak.sh.
--
--   wrk -s mixed.lua URL -- LEDGER_DIR TOKENS_FILE BAD_TOKENS_FILE [MIX]
--
-- MIX is weights per kind of request, default
-- "create=20,read=20,list=5,patch=20,delete=10,invalid=25":
--   create   POST   /v1/contacts            valid token, a body unique to the request
--   read     GET    /v1/contacts/{id}       valid token, checks it sees the last acknowledged write
--   list     GET    /v1/contacts?limit=20   valid token
--   patch    PATCH  /v1/contacts/{id}       valid token, writes values naming the request
--   delete   DELETE /v1/contacts/{id}       valid token
--   invalid  GET/POST/PATCH/DELETE          a bad token (bad signature, unknown key, revoked, garbage): must be 401
--
-- Every request carries `x-request-id: <kind letter><thread>.<n>`, which the
-- server echoes, so `response()` knows which request it answers (wrk does not
-- say). Each wrk thread keeps a pool of the contacts it created; a read, patch
-- or delete takes its contact out of the pool until the answer comes back, so
-- no two requests of this client are ever in flight on one contact and the
-- final content of every contact follows from the acknowledged requests alone.
--
-- Each thread writes its ledger to LEDGER_DIR/ledger-<thread>.tsv, one line per
-- event, tab-separated:
--   S  <tag> <method> <contact id or -> <body or ->      a request about to be written
--   R  <tag> <status> <contact id or -> <note>            its response
-- (soak_check.py replays it against the database). `done()` prints one
-- machine-readable SOAK line with the status classes counted here.

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local ledger, tokens, bad, mix, total_weight
local pool, last, inflight = {}, {}, {}
local n, lines = 0, 0

-- Counters, read by done() through thread:get.
sent, responses = 0, 0
ok2xx, expected401, unexpected4xx, s5xx, other = 0, 0, 0, 0, 0
stale, untagged, unknown = 0, 0, 0

local function read_lines(path)
  local t = {}
  for line in io.lines(path) do
    if line ~= "" then t[#t + 1] = line end
  end
  return t
end

function init(args)
  local dir = args[1]
  tokens = read_lines(args[2])
  bad = read_lines(args[3])
  mix, total_weight = {}, 0
  local spec = args[4] or "create=20,read=20,list=5,patch=20,delete=10,invalid=25"
  for kind, weight in string.gmatch(spec, "(%a+)=(%d+)") do
    weight = tonumber(weight)
    if weight > 0 then
      total_weight = total_weight + weight
      mix[#mix + 1] = { kind = kind, upto = total_weight }
    end
  end
  math.randomseed(tid * 7919)
  ledger = assert(io.open(string.format("%s/ledger-%d.tsv", dir, tid), "w"))
  ledger:setvbuf("full", 1024 * 1024)
end

local function log(...)
  ledger:write(table.concat({ ... }, "\t"), "\n")
  lines = lines + 1
  -- Flushed in chunks as well as at exit, so a killed wrk leaves most of it.
  if lines % 5000 == 0 then ledger:flush() end
end

local function pick_kind()
  local r = math.random(total_weight)
  for _, m in ipairs(mix) do
    if r <= m.upto then return m.kind end
  end
end

-- Takes a random contact out of this thread's pool (nil if empty).
local function take()
  local size = #pool
  if size == 0 then return nil end
  local i = math.random(size)
  local cid = pool[i]
  pool[i] = pool[size]
  pool[size] = nil
  return cid
end

local function headers(token, tag, body)
  local h = { ["Authorization"] = "Bearer " .. token, ["x-request-id"] = tag }
  if body then h["Content-Type"] = "application/json" end
  return h
end

local function valid_token()
  return tokens[(n % #tokens) + 1]
end

function request()
  n = n + 1
  sent = sent + 1
  local kind = pick_kind()
  local cid = nil
  if kind == "read" or kind == "patch" or kind == "delete" then
    cid = take()
    if cid == nil then kind = "create" end
  end
  local tag = string.format("%s%d.%d", string.sub(kind, 1, 1), tid, n)
  if kind == "invalid" then tag = string.format("x%d.%d", tid, n) end
  local method, path, body, token = "GET", "/v1/contacts?limit=20", nil, valid_token()

  if kind == "create" then
    method, path = "POST", "/v1/contacts"
    body = string.format(
      '{"email":"%s@soak.example.com","first_name":"Soak","last_name":"%s","phone":"+1 555 %07d","tags":["soak","t%d"],"attributes":{"n":%d,"thread":%d}}',
      tag, tag, n, tid, n, tid)
  elseif kind == "read" then
    path = "/v1/contacts/" .. cid
  elseif kind == "patch" then
    method, path = "PATCH", "/v1/contacts/" .. cid
    -- Every patch names itself in last_name and company; some clear the
    -- phone, some change the email (to one no other request uses).
    local extra = ""
    if n % 3 == 0 then extra = ',"phone":null' end
    if n % 4 == 0 then extra = extra .. string.format(',"email":"%s@Soak.Example.com"', tag) end
    body = string.format(
      '{"last_name":"%s","company":"%s","tags":["soak","p%d"],"attributes":{"patched":"%s"}%s}',
      tag, tag, n % 7, tag, extra)
  elseif kind == "delete" then
    method, path = "DELETE", "/v1/contacts/" .. cid
  elseif kind == "invalid" then
    token = bad[(n % #bad) + 1]
    local target = pool[#pool] -- not taken: a rejected request must not touch it anyway
    local shape = n % 4
    if shape == 1 then
      method, path = "POST", "/v1/contacts"
      body = string.format('{"email":"%s@soak.example.com","last_name":"%s"}', tag, tag)
    elseif shape == 2 and target then
      method, path = "PATCH", "/v1/contacts/" .. target
      body = string.format('{"last_name":"%s"}', tag)
    elseif shape == 3 and target then
      method, path = "DELETE", "/v1/contacts/" .. target
    end
    cid = target
  end

  inflight[tag] = cid or false
  log("S", tag, method, cid or "-", body or "-")
  return wrk.format(method, path, headers(token, tag, body), body)
end

function response(status, hdrs, body)
  responses = responses + 1
  local tag = hdrs["x-request-id"] or hdrs["X-Request-Id"]
  if status >= 500 then s5xx = s5xx + 1 end
  if tag == nil then
    untagged = untagged + 1
    log("R", "-", status, "-", "untagged")
    return
  end
  local cid = inflight[tag]
  if cid == nil then
    unknown = unknown + 1
    log("R", tag, status, "-", "unknown")
    return
  end
  inflight[tag] = nil
  local kind = string.sub(tag, 1, 1)
  local note = "-"

  if kind == "x" then
    if status == 401 then expected401 = expected401 + 1 end
  elseif status >= 200 and status < 300 then
    ok2xx = ok2xx + 1
  end
  local expected = (kind == "x" and status == 401)
    or (kind == "c" and status == 201)
    or ((kind == "r" or kind == "l" or kind == "p") and status == 200)
    or (kind == "d" and status == 204)
  if not expected and status < 500 then
    if status >= 400 then unexpected4xx = unexpected4xx + 1 else other = other + 1 end
  end

  if kind == "c" and status == 201 then
    cid = string.match(body, '"id":"(ct_[^"]+)"')
    if cid then
      pool[#pool + 1] = cid
      last[cid] = tag
    else
      note = "no-id"
    end
  elseif kind == "p" and status == 200 then
    last[cid] = tag
    pool[#pool + 1] = cid
  elseif kind == "r" and status == 200 then
    -- Read-your-writes: the contact shows the last acknowledged write to it.
    if not string.find(body, '"last_name":"' .. last[cid] .. '"', 1, true) then
      stale = stale + 1
      note = "stale"
    end
    pool[#pool + 1] = cid
  end
  -- Anything else (an error on a read, patch or delete) keeps the contact out
  -- of the pool: its state is for the checker to judge.
  log("R", tag, status, cid or "-", note)
end

function done(summary, latency, requests)
  local totals = { sent = 0, responses = 0, ok2xx = 0, expected401 = 0, unexpected4xx = 0,
    s5xx = 0, other = 0, stale = 0, untagged = 0, unknown = 0 }
  for _, thread in ipairs(threads) do
    for k, _ in pairs(totals) do
      totals[k] = totals[k] + (thread:get(k) or 0)
    end
  end
  local e = summary.errors
  io.write(string.format(
    "SOAK sent=%d responses=%d ok2xx=%d expected401=%d unexpected4xx=%d s5xx=%d other=%d stale=%d untagged=%d unknown=%d"
      .. " wrk_requests=%d connect=%d read=%d write=%d timeout=%d status=%d duration_us=%d"
      .. " p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    totals.sent, totals.responses, totals.ok2xx, totals.expected401, totals.unexpected4xx,
    totals.s5xx, totals.other, totals.stale, totals.untagged, totals.unknown,
    summary.requests, e.connect, e.read, e.write, e.timeout, e.status, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
