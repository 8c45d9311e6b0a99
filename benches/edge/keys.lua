-- wrk script for scripts/bench-edge: POST /_gate/keys with a JSON body and a session cookie.
--   GH_BODY    the JSON body (default: five rules of the demo site)
--   GH_COOKIE  the Cookie header, e.g. "gh_session=..." (unset or empty: no cookie)
--   GH_METHOD  the method (default POST; GET drops the body, for /healthz)
-- done() prints one machine-readable line that scripts/bench-edge parses:
--   RESULT rps=<float> p50_ms=<float> p99_ms=<float> requests=<n> non2xx=<n> errors=<n>

local default_body = '{"rules":["level=gold;bundles=-;drip=0",'
  .. '"level=silver;bundles=-;drip=604800",'
  .. '"level=-;bundles=pricing-course;drip=0",'
  .. '"level=gold;bundles=pricing-course;drip=0",'
  .. '"level=free;bundles=-;drip=0"]}'

wrk.method = os.getenv("GH_METHOD") or "POST"
if wrk.method ~= "GET" then
  local body = os.getenv("GH_BODY")
  if body == nil or body == "" then body = default_body end
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
local cookie = os.getenv("GH_COOKIE")
if cookie ~= nil and cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.requests,
    e.status,
    e.connect + e.read + e.write + e.timeout))
end
