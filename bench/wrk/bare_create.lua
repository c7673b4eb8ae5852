-- POST one bare row (the baseline for uploads): a small JSON body, one INSERT.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  local body = string.format('{"owner_id":%d,"value":%d,"label":"%s"}',
    math.random(1, 200), math.random(0, 1000), uuid4():sub(1, 8))
  return wrk.format(nil, nil, nil, body)
end
