"""Attribute history rows for the temporal API: which instances a write changed, as table rows.

ETSI GS CIM 009 v1.8 §4.5.8 (temporal representation): each change is an instance with its own
instanceId, timed by observedAt when given, else modifiedAt.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

Instance = dict[str, Any]
Seal = Callable[[bytes], bytes]  # a personal entity's instances are stored sealed
_INSERT = ("INSERT INTO attr_instances (tenant, entity_id, attr, dataset_id, instance_id, "
           "observed_at, created_at, modified_at, kind, num, value_json, doc) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}  # RFC 9562 variant bits
_VALUE_KEYS = ("value", "object", "languageMap", "vocab", "json", "valueList", "objectList")


@lru_cache(maxsize=1024)
def to_ms(iso: str) -> int:
    """Epoch milliseconds of an ISO 8601 date-time (naive = UTC). Cached: the instances of one
    write share their time stamp."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def ms_iso(ms: int) -> str:
    """The NGSI-LD form of epoch milliseconds: UTC, `Z`, milliseconds only when not zero."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{ms % 1000:03d}Z" if ms % 1000 else f"{text}Z"


def new_instance_id() -> str:
    """A random (version 4) UUID URN; formatted by hand, as str(uuid.uuid4()) costs 5 µs."""
    h = os.urandom(16).hex()
    return (f"urn:ngsi-ld:attribute:instance:{h[:8]}-{h[8:12]}-4{h[13:16]}-"
            f"{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}")


def changed(old_doc: bytes | None, new: dict[str, Any]) -> list[tuple[str, Instance]]:
    """The (attribute, instance) pairs of `new` that differ from the stored entity `old_doc`."""
    old_attrs = orjson.loads(old_doc).get("attrs", {}) if old_doc is not None else {}
    out: list[tuple[str, Instance]] = []
    for attr, instances in new.get("attrs", {}).items():
        before = {i.get("datasetId"): i for i in old_attrs.get(attr, ())}
        for inst in instances:
            if before.get(inst.get("datasetId")) != inst:
                out.append((attr, inst))
    return out


def row(tenant: str, entity_id: str, attr: str, inst: Instance, now: str,
        seal: Seal | None = None) -> tuple[Any, ...]:
    """One attr_instances row; the instance gets an instanceId and the recording times.
    Sealed (`seal`): the document only, no plaintext value columns (num, value_json)."""
    doc = {k: v for k, v in inst.items() if k not in ("createdAt", "modifiedAt")}
    doc["instanceId"] = inst.get("instanceId") or new_instance_id()
    stamp = inst.get("modifiedAt") or now
    doc["createdAt"] = doc["modifiedAt"] = stamp
    stamp_ms = to_ms(stamp)
    observed = inst.get("observedAt")
    kind = inst.get("type", "Property")
    num, value_json = value_columns(inst)
    body = orjson.dumps(doc)
    if seal is not None:
        num, value_json, body = None, None, seal(body)
    return (tenant, entity_id, attr, inst.get("datasetId"), doc["instanceId"],
            to_ms(observed) if observed else stamp_ms, stamp_ms, stamp_ms, kind, num, value_json,
            body)


def value_columns(inst: Instance) -> tuple[float | None, bytes | None]:
    """The `num` and `value_json` columns of an instance (aggregation reads them)."""
    value = next((inst[k] for k in _VALUE_KEYS if k in inst), None)
    num = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    value_json = None if num is not None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return num, value_json


def insert(conn: sqlite3.Connection, tenant: str, entity_id: str,
           pairs: list[tuple[str, Instance]], now: str, seal: Seal | None = None) -> None:
    if pairs:
        conn.executemany(_INSERT, [row(tenant, entity_id, a, i, now, seal) for a, i in pairs])


def record(conn: sqlite3.Connection, tenant: str, entity_id: str, old_doc: bytes | None,
           new: dict[str, Any], seal: Seal | None = None) -> None:
    """Keep every instance a write changed, in the write's own transaction."""
    pairs = changed(old_doc, new)
    if pairs:
        insert(conn, tenant, entity_id, pairs, new.get("modifiedAt") or now_iso(), seal)


def forget(conn: sqlite3.Connection, tenant: str, entity_id: str) -> None:
    conn.execute("DELETE FROM attr_instances WHERE tenant = ? AND entity_id = ?",
                 (tenant, entity_id))


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def cut_if_needed(conn: sqlite3.Connection, tenant: str, entity_id: str,
                  old_types: list[str] | None, new_types: list[str]) -> None:
    """Cut the history of `entity_id` off from the temporal API when a write removes one of
    its types or creates it again over history it left (issue: history under a type set T_old
    is released with the types T_new only when T_old ⊆ T_new). The mark is the newest history
    row now: the write's own instances, inserted after it, are released."""
    if old_types is None:  # a creation: over history left by a deleted entity of this id?
        if conn.execute("SELECT 1 FROM attr_instances WHERE tenant = ? AND entity_id = ? "
                        "LIMIT 1", (tenant, entity_id)).fetchone() is None:
            return
    elif set(old_types) <= set(new_types):  # types only added: the history stays
        return
    since = conn.execute("SELECT max(iid) FROM attr_instances").fetchone()[0] or 0
    conn.execute("INSERT INTO history_marks (tenant, entity_id, since) VALUES (?, ?, ?) "
                 "ON CONFLICT (tenant, entity_id) DO UPDATE SET since = excluded.since",
                 (tenant, entity_id, since))


def marks(conn: sqlite3.Connection, tenant: str, entity_ids: list[str]) -> dict[str, int]:
    """The history marks of these entities: only rows with a greater iid are released."""
    out: dict[str, int] = {}
    for start in range(0, len(entity_ids), 500):
        chunk = entity_ids[start:start + 500]
        out.update(conn.execute(
            f"SELECT entity_id, since FROM history_marks WHERE tenant = ? AND entity_id IN "
            f"({','.join('?' * len(chunk))})", [tenant, *chunk]).fetchall())
    return out


def since_sql(tenant: str, entity_id: str, writer: str) -> tuple[str, list[Any]]:
    """SQL: the row is after `entity_id`'s history mark, for the temporal writes of a writer
    with type grants (the history cut off is not theirs to change); "" for the others."""
    if getattr(writer, "types", None) is None:
        return "", []
    return (" AND iid > coalesce((SELECT since FROM history_marks WHERE tenant = ? "
            "AND entity_id = ?), 0)", [tenant, entity_id])
