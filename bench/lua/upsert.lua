-- POST /entityOperations/upsert of B entities per request, chunks of the N-entity data set in
-- turn (the same documents as bench/ngsi.py's loader, with a new temperature).
-- args: N, B
local n, b = 1, 100
local chunk = 0
local round = 0
local headers = {["Content-Type"] = "application/json"}
function init(args)
  n = tonumber(args[1])
  b = tonumber(args[2])
  chunk = math.random(0, n / b - 1)
end
local function entity(i, t)
  return string.format(
    '{"id":"urn:ngsi-ld:Sensor:%06d","type":"Sensor",' ..
    '"temperature":{"type":"Property","value":%d.5,"unitCode":"CEL"},' ..
    '"category":{"type":"Property","value":%d},' ..
    '"name":{"type":"Property","value":"sensor %d"},' ..
    '"location":{"type":"GeoProperty","value":{"type":"Point","coordinates":[%.5f,%.5f]}}}',
    i, t, i % 5000, i, 135.40 + (i % 1000) * 0.0001, 34.80 + math.floor(i / 1000) * 0.0001)
end
function request()
  local parts = {}
  local first = chunk * b
  round = round + 1
  for k = 0, b - 1 do
    parts[#parts + 1] = entity(first + k, (round + k) % 40)
  end
  chunk = (chunk + 1) % math.floor(n / b)
  return wrk.format("POST", "/ngsi-ld/v1/entityOperations/upsert", headers,
                    "[" .. table.concat(parts, ",") .. "]")
end
