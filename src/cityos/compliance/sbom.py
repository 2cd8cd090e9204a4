"""What the platform runs on: a CycloneDX 1.5 SBOM of the installed Python distributions, and
their check against an offline copy of an advisory database in the OSV format (the PyPA
advisory database, `vulns/<package>/PYSEC-….yaml`, or OSV JSON files) — no network needed.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson
import yaml  # type: ignore[import-untyped]

from cityos import __version__


def normal(name: str) -> str:
    """PEP 503 normalised name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> dict[str, str]:
    """Every installed distribution: normalised name -> version."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[normal(name)] = dist.version
    return dict(sorted(found.items()))


def cyclonedx(packages: dict[str, str]) -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX", "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}", "version": 1,
        "metadata": {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "component": {"type": "application", "name": "cityos",
                                   "version": __version__,
                                   "purl": f"pkg:pypi/cityos@{__version__}"}},
        "components": [{"type": "library", "bom-ref": f"pkg:pypi/{n}@{v}", "name": n,
                        "version": v, "purl": f"pkg:pypi/{n}@{v}"}
                       for n, v in packages.items() if n != "cityos"],
    }


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    advisory: str  # its id (and aliases)
    summary: str
    fixed: str  # the first fixed version(s) named, if any


def _version(text: str) -> Any:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text or "0")
    except InvalidVersion:
        return None


def _affected_by_range(version: Any, events: list[dict[str, str]]) -> bool:
    """OSV's ECOSYSTEM range: events in version order toggle whether a version is affected."""
    keyed = []
    for event in events:
        kind, value = next(iter(event.items()))
        parsed = _version(value)
        if parsed is not None:
            keyed.append((parsed, kind))
    affected = False
    for at, kind in sorted(keyed, key=lambda e: e[0]):
        if kind == "introduced" and version >= at:
            affected = True
        elif (kind == "fixed" and version >= at) or (kind == "last_affected" and version > at):
            affected = False
    return affected


def _documents(directory: Path) -> list[dict[str, Any]]:
    docs = []
    for path in sorted(directory.rglob("*")):
        if path.suffix not in (".yaml", ".yml", ".json") or not path.is_file():
            continue
        try:
            raw = path.read_bytes()
            doc = orjson.loads(raw) if path.suffix == ".json" else yaml.safe_load(raw)
        except (orjson.JSONDecodeError, yaml.YAMLError, OSError):
            continue
        if isinstance(doc, dict) and doc.get("affected"):
            docs.append(doc)
    return docs


def audit(packages: dict[str, str], directory: Path) -> tuple[int, list[Finding]]:
    """How many advisories `directory` holds, and those that affect an installed version."""
    docs = _documents(directory)
    findings = []
    for doc in docs:
        for affected in doc.get("affected", []):
            package = affected.get("package", {})
            if str(package.get("ecosystem", "")).lower() != "pypi":
                continue
            name = normal(str(package.get("name", "")))
            have = packages.get(name)
            version = _version(have) if have else None
            if version is None:
                continue
            hit = have in [str(v) for v in affected.get("versions", [])] or any(
                _affected_by_range(version, r.get("events", []))
                for r in affected.get("ranges", []) if r.get("type") in ("ECOSYSTEM", "SEMVER"))
            if hit:
                fixed = sorted({str(e["fixed"]) for r in affected.get("ranges", [])
                                for e in r.get("events", []) if "fixed" in e})
                ids = [str(doc.get("id", "?")), *map(str, doc.get("aliases", []))]
                findings.append(Finding(name, str(have), " / ".join(ids),
                                        str(doc.get("summary") or doc.get("details", ""))[:200],
                                        ", ".join(fixed)))
                break
    return len(docs), findings
