-- POST a session upload with a fresh client_id per request: every request stores a session.
-- BENCH_BODY is the JSON body with the placeholder __CLIENT_ID__.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local template = os.getenv("BENCH_BODY")

function request()
  local body = template:gsub("__CLIENT_ID__", uuid4())
  return wrk.format(nil, nil, nil, body)
end
