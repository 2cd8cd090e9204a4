-- GET one entity at random among N (args: N, path prefix). BENCH_AUTHORIZATION in the
-- environment, when set, is sent as the Authorization header (the gate's bench).
local n, prefix = 1, "/"
local headers = nil
function init(args)
  n = tonumber(args[1])
  prefix = args[2]
  local auth = os.getenv("BENCH_AUTHORIZATION")
  if auth ~= nil and auth ~= "" then
    headers = {["Authorization"] = auth}
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end
function request()
  return wrk.format("GET", string.format("%s%06d", prefix, math.random(0, n - 1)), headers)
end
