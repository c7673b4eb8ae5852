-- GET the URL given to wrk, with the JWT or the session cookie from the environment.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
wrk.method = "GET"
