"""Distances along a road graph (a small synthetic one: none is vendored), and the importers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cityos.services.evacuation import planner
from cityos.services.evacuation.distances import RoadGraph, great_circle_m
from cityos.services.evacuation.model import Area, Shelter

# an L-shaped road: west–east along 34.90, then north along 135.41; a detached road far away
ROAD = [(135.40, 34.90), (135.405, 34.90), (135.41, 34.90), (135.41, 34.905), (135.41, 34.91)]
DETACHED = [(135.50, 34.95), (135.505, 34.95)]


def geojson(path: Path) -> Path:
    features = [{"type": "Feature", "properties": {"highway": "residential"},
                 "geometry": {"type": "LineString", "coordinates": [list(p) for p in line]}}
                for line in (ROAD, DETACHED)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def osm(path: Path) -> Path:
    nodes = "".join(f'<node id="{n}" lon="{x}" lat="{y}"/>'
                    for n, (x, y) in enumerate(ROAD + DETACHED, start=1))
    road = "".join(f'<nd ref="{n}"/>' for n in range(1, len(ROAD) + 1))
    detached = "".join(f'<nd ref="{n}"/>' for n in range(len(ROAD) + 1, len(ROAD) + 3))
    river = '<way id="3"><nd ref="1"/><nd ref="7"/><tag k="waterway" v="river"/></way>'
    path.write_text(f'<osm version="0.6">{nodes}<way id="1">{road}'
                    f'<tag k="highway" v="residential"/></way><way id="2">{detached}'
                    f'<tag k="highway" v="track"/></way>{river}</osm>')
    return path


AREA = Area("a1", "west end", 135.40, 34.90, people=50)
NEAR_BY_AIR = Shelter("s1", "north end", "EvacuationShelter", 135.41, 34.91, capacity=100,
                      hazards=frozenset({"flood"}))
AWAY = Shelter("s2", "no road there", "EvacuationShelter", 135.505, 34.95, capacity=100,
               hazards=frozenset({"flood"}))


@pytest.mark.parametrize("maker", [geojson, osm])
def test_road_distance_follows_the_road(tmp_path: Path, maker: object) -> None:
    path = maker(tmp_path / ("roads.geojson" if maker is geojson else "roads.osm"))  # type: ignore[operator]
    roads = RoadGraph.load(path)
    assert roads.graph.number_of_nodes() == len(ROAD) + len(DETACHED)  # the river is no road
    result = planner.plan([AREA], [NEAR_BY_AIR, AWAY], roads=roads)
    assert result.distance == "roads"
    along = great_circle_m(135.40, 34.90, 135.41, 34.90) + great_circle_m(135.41, 34.90,
                                                                           135.41, 34.91)
    air = great_circle_m(135.40, 34.90, 135.41, 34.91)
    meters = dict(((a, s), m) for a, s, m in result.distances())
    assert meters[("a1", "s1")] == round(along) > air
    assert ("a1", "s2") not in meters  # no road joins them: not a candidate pair
    assert result.assignment == [("a1", "s1", 50)]


def test_without_roads_the_plan_says_great_circle() -> None:
    result = planner.plan([AREA], [NEAR_BY_AIR])
    assert result.distance == "great-circle"
    assert result.to_json()["distance"] == "great-circle"


def test_an_empty_road_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "roads.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(ValueError, match="no roads"):
        RoadGraph.load(path)
