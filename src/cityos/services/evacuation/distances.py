"""Distances from town areas to shelters: great-circle by default, along roads when a road
graph is loaded (`RoadGraph.from_geojson` for GeoJSON lines, `RoadGraph.from_osm` for an
OpenStreetMap XML extract; none is vendored)."""

from __future__ import annotations

import itertools
import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from cityos.services.evacuation.model import Area, Shelter

EARTH_RADIUS_M = 6_371_008.8  # the mean Earth radius (IUGG)


def great_circle_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine distance in meters."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def great_circle_matrix(areas: Sequence[Area], shelters: Sequence[Shelter]) -> np.ndarray:
    """meters[i, j] from area i to shelter j (rounded to whole meters)."""
    alon = np.radians([a.lon for a in areas])[:, None]
    alat = np.radians([a.lat for a in areas])[:, None]
    slon = np.radians([s.lon for s in shelters])[None, :]
    slat = np.radians([s.lat for s in shelters])[None, :]
    h = np.sin((slat - alat) / 2) ** 2 + np.cos(alat) * np.cos(slat) * np.sin((slon - alon) / 2) ** 2
    meters = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    return np.rint(meters).astype(np.int64)


class RoadGraph:
    """An undirected graph of road segments, edges weighted by their length in meters."""

    def __init__(self, graph: nx.Graph) -> None:
        if graph.number_of_nodes() == 0:
            raise ValueError("the road graph has no roads / 道路グラフに道路がありません")
        self.graph = graph
        self._nodes = list(graph.nodes)
        self._coords = np.array([graph.nodes[n]["xy"] for n in self._nodes], dtype=float)

    @classmethod
    def from_lines(cls, lines: Sequence[Sequence[tuple[float, float]]]) -> RoadGraph:
        """Each line is a polyline of (lon, lat); shared coordinates join lines."""
        graph = nx.Graph()
        for line in lines:
            points = [(round(float(x), 7), round(float(y), 7)) for x, y in line]
            for a, b in itertools.pairwise(points):
                if a == b:
                    continue
                graph.add_node(a, xy=a)
                graph.add_node(b, xy=b)
                graph.add_edge(a, b, length=great_circle_m(*a, *b))
        return cls(graph)

    @classmethod
    def from_geojson(cls, path: Path) -> RoadGraph:
        """A GeoJSON FeatureCollection of LineString / MultiLineString roads (e.g. exported
        from an OSM extract with `osmium export` or `ogr2ogr`, or GSI 道路中心線)."""
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
        lines: list[list[tuple[float, float]]] = []
        for feature in data.get("features", []):
            geometry = feature.get("geometry") or {}
            if geometry.get("type") == "LineString":
                lines.append([tuple(c[:2]) for c in geometry["coordinates"]])
            elif geometry.get("type") == "MultiLineString":
                lines.extend([tuple(c[:2]) for c in part] for part in geometry["coordinates"])
        return cls.from_lines(lines)

    @classmethod
    def from_osm(cls, path: Path) -> RoadGraph:
        """An OpenStreetMap XML extract (.osm): every way tagged `highway`."""
        root = ET.parse(path).getroot()
        nodes = {n.get("id"): (float(n.get("lon", "0")), float(n.get("lat", "0")))
                 for n in root.iter("node")}
        lines = []
        for way in root.iter("way"):
            if not any(t.get("k") == "highway" for t in way.iter("tag")):
                continue
            line = [nodes[r.get("ref")] for r in way.iter("nd") if r.get("ref") in nodes]
            if len(line) > 1:
                lines.append(line)
        return cls.from_lines(lines)

    @classmethod
    def load(cls, path: Path) -> RoadGraph:
        return cls.from_osm(path) if path.suffix == ".osm" else cls.from_geojson(path)

    def nearest(self, lon: float, lat: float) -> tuple[Any, float]:
        """The road node nearest to a point, and the straight distance to it (meters)."""
        scale = math.cos(math.radians(lat))
        d2 = ((self._coords[:, 0] - lon) * scale) ** 2 + (self._coords[:, 1] - lat) ** 2
        node = self._nodes[int(np.argmin(d2))]
        return node, great_circle_m(lon, lat, *self.graph.nodes[node]["xy"])

    def matrix(self, areas: Sequence[Area], shelters: Sequence[Shelter]) -> np.ndarray:
        """meters[i, j] along roads (plus the walk to and from the nearest road node);
        -1 where no road joins them."""
        out = np.full((len(areas), len(shelters)), -1, dtype=np.int64)
        area_nodes = [self.nearest(a.lon, a.lat) for a in areas]
        for j, s in enumerate(shelters):
            node, walk = self.nearest(s.lon, s.lat)
            lengths = nx.single_source_dijkstra_path_length(self.graph, node, weight="length")
            for i, (anode, awalk) in enumerate(area_nodes):
                if anode in lengths:
                    out[i, j] = round(walk + lengths[anode] + awalk)
        return out
