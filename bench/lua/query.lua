-- GET /entities with a fixed query string (args: path with query).
local path = "/"
function init(args)
  path = args[1]
end
function request()
  return wrk.format("GET", path)
end
