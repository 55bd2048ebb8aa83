-- GET with a bearer token taken in turn from a file (one per line), so every
-- request of a run carries a different token until the list wraps.
-- wrk -s cycle.lua URL -- TOKENS_FILE
local tokens = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
  i = math.random(#tokens)
end

function request()
  i = i % #tokens + 1
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. tokens[i] })
end
