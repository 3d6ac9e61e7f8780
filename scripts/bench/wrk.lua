-- wrk request generator: rotates over realistic paths (the ones benches/support/mod.rs
-- TARGETS lists) and over the first 1,000 tokens of the file given after "--".
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
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
    if #tokens >= 1000 then break end
  end
end

function request()
  i = i + 1
  local p = paths[(i % #paths) + 1]
  local t = tokens[(i % #tokens) + 1]
  return wrk.format(p[1], p[2], { ["Host"] = "api.example.com", ["Authorization"] = "Bearer " .. t })
end
