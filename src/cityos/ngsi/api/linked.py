"""Linked entity retrieval: `join=inline|flat` and `joinLevel` on retrieve and query.

ETSI GS CIM 009 v1.8 §4.5.23 (linked entity retrieval), §6.3.? `join`/`joinLevel` parameters.
Only relationships that survive the caller's projection are followed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from starlette.requests import Request

from cityos.ngsi.api.request import int_param
from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.model.projection import nesting
from cityos.ngsi.model.terms import Context
from cityos.ngsi.model.write import View, render_entity
from cityos.storage.base import Reader, Store

Entity = dict[str, Any]
JOINS = ("inline", "flat", "@none")


def join_of(request: Request) -> tuple[str | None, int]:
    """The join asked for (None: no join) and how many relationship hops to follow."""
    join = request.query_params.get("join")
    if join is not None and join not in JOINS:
        raise BadRequestData("join must be inline, flat or @none")
    level = int_param(request, "joinLevel", 1, minimum=0, maximum=16)
    return (None if join in (None, "@none") else join), level


def check_reach(view: View, join: str | None, level: int) -> None:
    """pick/omit cannot address linked entities the join does not bring (§4.21)."""
    reach = level if join else 0
    for name, projection in (("pick", view.pick), ("omit", view.omit)):
        if nesting(projection) > reach:
            raise BadRequestData(f"{name} reaches deeper into linked entities than "
                                 f"{'joinLevel ' + str(level) if join else 'no join'} allows")


class Linker:
    """Fetches linked entities once per request, as `reader` may see them (issue 6), and
    renders joined entities; `fetched` lists the linked entities found (the data tracker's)."""

    def __init__(self, store: Store, tenant: str, ctx: Context,
                 reader: Reader | None = None) -> None:
        self.store = store
        self.tenant = tenant
        self.ctx = ctx
        self.reader = reader
        self._cache: dict[str, Entity | None] = {}
        self.fetched: list[Entity] = []

    async def _get(self, entity_id: str) -> Entity | None:
        if entity_id not in self._cache:
            found = await self.store.get_entity(self.tenant, entity_id, self.reader)
            self._cache[entity_id] = found
            if found is not None:
                self.fetched.append(found)
        return self._cache[entity_id]

    def _links(self, entity: Entity, out: dict[str, Any]) -> Iterator[tuple[str, int, list[str]]]:
        """(term, instance index, target ids) of each rendered relationship instance."""
        for iri, instances in entity.get("attrs", {}).items():
            term = self.ctx.compact_iri(iri)
            if term not in out:
                continue
            for index, inst in enumerate(instances):
                if inst.get("type") != "Relationship":
                    continue
                objects = inst.get("object")
                targets = objects if isinstance(objects, list) else [objects]
                yield term, index, [t for t in targets if isinstance(t, str)]

    async def inline(self, entity: Entity, view: View, level: int) -> dict[str, Any]:
        """The entity with each linked entity under its relationship (`entity` member)."""
        out = render_entity(entity, self.ctx, view)
        if level <= 0:
            return out
        for term, index, targets in list(self._links(entity, out)):
            found = [e for e in [await self._get(t) for t in targets] if e is not None]
            if not found:
                continue
            sub = view.linked(term)
            rendered = [await self.inline(e, sub, level - 1) for e in found]
            value: Any = rendered[0] if len(rendered) == 1 else rendered
            slot = out[term]
            if view.format == "keyValues":
                if isinstance(slot, list) and index < len(slot):
                    slot[index] = value
                else:
                    out[term] = value
            else:
                target = slot[index] if isinstance(slot, list) else slot
                if isinstance(target, dict):
                    target["entity"] = value
        return out

    async def flat(self, roots: list[Entity], view: View, level: int) -> list[dict[str, Any]]:
        """The entities, then the entities they link to (breadth first), each once."""
        seen: dict[str, dict[str, Any]] = {}
        queue: list[tuple[Entity, View, int]] = [(e, view, level) for e in roots]
        while queue:
            entity, v, left = queue.pop(0)
            if entity["id"] in seen:
                continue
            out = render_entity(entity, self.ctx, v)
            seen[entity["id"]] = out
            if left <= 0:
                continue
            for term, _, targets in list(self._links(entity, out)):
                for target in targets:
                    linked = await self._get(target)
                    if linked is not None and target not in seen:
                        queue.append((linked, v.linked(term), left - 1))
        return list(seen.values())


async def render_all(store: Store, tenant: str, entities: list[Entity], ctx: Context,
                     view: View, join: str | None, level: int, reader: Reader | None = None,
                     fetched: list[Entity] | None = None) -> list[dict[str, Any]]:
    """Query results as asked: joined or not; entities that pick/omit empty are left out.
    Linked entities as `reader` may see them, added to `fetched`."""
    check_reach(view, join, level)
    linker = Linker(store, tenant, ctx, reader)
    if fetched is not None:
        linker.fetched = fetched
    if join == "flat":
        data = await linker.flat(entities, view, level)
    elif join == "inline":
        data = [await linker.inline(e, view, level) for e in entities]
    else:
        data = [render_entity(e, ctx, view) for e in entities]
    if view.pick is not None or view.omit is not None:
        data = [d for d in data if d]
    return data
