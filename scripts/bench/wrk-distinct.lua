-- wrk request generator for tokens never seen: every request takes the next token of the
-- file given after "--", skipping the first N (the second argument: tokens earlier runs
-- used), over the same paths as wrk.lua. One wrk thread (-t1) keeps them in order.
local tokens = {}
local paths = {
  { "GET", "/svc1/items/123?expand=owner" },
  { "PUT", "/svc7/items/abc" },
  { "DELETE", "/svc13/items/9/tags/red" },
  { "GET", "/svc7/files/reports/2026/q3.pdf" },
  { "POST", "/svc13/items" },
}
local i = 0

function init(args)
  local skip = tonumber(args[2] or "0")
  local n = 0
  for line in io.lines(args[1]) do
    n = n + 1
    if n > skip and #line > 0 then tokens[#tokens + 1] = line end
  end
end

function request()
  i = i + 1
  local p = paths[(i % #paths) + 1]
  local t = tokens[((i - 1) % #tokens) + 1]
  return wrk.format(p[1], p[2], { ["Host"] = "api.example.com", ["Authorization"] = "Bearer " .. t })
end
