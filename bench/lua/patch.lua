-- PATCH /entities/{id}/attrs/temperature of a random entity among N (args: N).
local n = 1
local counter = 0
local headers = {["Content-Type"] = "application/json"}
function init(args)
  n = tonumber(args[1])
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end
function request()
  counter = counter + 1
  local path = string.format(
    "/ngsi-ld/v1/entities/urn:ngsi-ld:Sensor:%06d/attrs/temperature", math.random(0, n - 1))
  local body = string.format('{"value": %d.5}', counter % 40)
  return wrk.format("PATCH", path, headers, body)
end
