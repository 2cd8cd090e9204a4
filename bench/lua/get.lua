-- GET one entity at random among N (args: N, path prefix).
local n, prefix = 1, "/"
function init(args)
  n = tonumber(args[1])
  prefix = args[2]
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end
function request()
  return wrk.format("GET", string.format("%s%06d", prefix, math.random(0, n - 1)))
end
