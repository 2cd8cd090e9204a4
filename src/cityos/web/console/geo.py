"""The map's data: the town's entities as GeoJSON layers (non-personal data only), an outline
of the town drawn from its areas for the no-tiles map, and the attribution of each source."""

from __future__ import annotations

from typing import Any

from shapely.geometry import MultiPoint, mapping
from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.api.respond import plain_json
from cityos.ngsi.model.write import View, render_feature_collection
from cityos.storage.base import EntityQuery
from cityos.web.console._page import tenant

# layer key -> (entity type, attributes shown); drawn in this order
LAYERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "areas": ("TownArea", ("name", "district")),
    "sites": ("EmergencyEvacuationSite", ("name", "hazardType")),
    "shelters": ("EvacuationShelter", ("name", "occupancy")),
    "beacons": ("BeaconReceiver", ("name", "beaconsSeen")),
    "solar": ("PhotovoltaicMeasurement", ("name", "activePower")),
    "vehicles": ("Vehicle", ("name", "speed", "passengers")),
}
SOURCES = ({"ja": "避難所・緊急避難場所: 出典：国土地理院", "en": "Shelters and evacuation sites: "
            "Geospatial Information Authority of Japan (国土地理院)"},
           {"ja": "町域: Geolonia 住所データ (japanese-addresses)",
            "en": "Town areas: Geolonia japanese-addresses"},
           {"ja": "機器のデータ: デモの模擬機器 (架空)", "en": "Device data: the demo's simulated "
            "devices (fictional)"})
MAX_PER_LAYER = 2000


async def layers(app: Any, tenant_id: str) -> dict[str, Any]:
    """Every layer as a GeoJSON FeatureCollection (keyValues properties, observedAt kept)."""
    store = app.state.broker.store
    ctx = await app.state.broker.context(None)
    out: dict[str, Any] = {}
    if not await store.tenant_exists(tenant_id):
        return {key: {"type": "FeatureCollection", "features": []} for key in LAYERS}
    for key, (type_name, attrs) in LAYERS.items():
        wanted = frozenset(ctx.expand_term(a) for a in (*attrs, "location"))
        found = await store.query_entities(tenant_id, EntityQuery(
            types=[ctx.expand_term(type_name)], limit=MAX_PER_LAYER))
        view = View(format="keyValues", attrs=wanted)
        collection = render_feature_collection(found.entities, ctx, view)
        for feature, entity in zip(collection["features"], found.entities, strict=True):
            observed = [i.get("observedAt") for iri in wanted if iri != ctx.expand_term("name")
                        for i in entity.get("attrs", {}).get(iri, ()) if i.get("observedAt")]
            if observed:
                feature["properties"]["observedAt"] = max(observed)
        collection["features"] = [f for f in collection["features"] if f["geometry"]]
        out[key] = collection
    return out


def outline(areas: dict[str, Any]) -> dict[str, Any] | None:
    """A rough outline of the town: the hull around its areas' points, a little widened."""
    points = [f["geometry"]["coordinates"] for f in areas["features"]
              if f["geometry"].get("type") == "Point"]
    if len(points) < 3:
        return None
    hull = MultiPoint(points).convex_hull.buffer(0.004)
    return {"type": "Feature", "geometry": mapping(hull), "properties": {"name": "outline"}}


async def map_layers(request: Request) -> Response:
    """GeoJSON of the map's layers (the console's map page refreshes from it)."""
    data = await layers(request.app, tenant(request))
    return plain_json({"layers": data, "outline": outline(data["areas"]),
                       "sources": list(SOURCES)}, headers={"Cache-Control": "no-store"})
