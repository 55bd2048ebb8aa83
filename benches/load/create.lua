-- POST /v1/contacts with a fresh email each time.
-- wrk -s create.lua URL -- TOKEN RUN_ID
local threads = 0
local n = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  token = args[1]
  run = args[2]
end

function request()
  n = n + 1
  local body = string.format('{"email":"load-%s-%d-%d@example.com","tags":["load"]}', run, tid, n)
  return wrk.format("POST", "/v1/contacts", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end
