"""The service at work inside `cityos serve`: a subscription to shelters' and emergency
sites' occupancy, staff counts, open/closed state and capacity, and one worker re-planning
after each notification."""

from __future__ import annotations

import logging

from cityos.services.evacuation.guidance import Guidance
from cityos.services.evacuation.source import PLACE_TYPES
from cityos.services.runtime import ServiceContext

log = logging.getLogger("cityos.services.evacuation")
WATCHED = ["occupancy", "staffCount", "status", "capacity"]


def guidance_of(ctx: ServiceContext) -> Guidance:
    found = ctx.state.get("guidance")
    if not isinstance(found, Guidance):
        found = ctx.state["guidance"] = Guidance(ctx.client, share=float(ctx.options["share"]),
                                                 debounce=float(ctx.options["debounce"]))
    return found


async def start(ctx: ServiceContext) -> None:
    guidance_of(ctx)
    ctx.spawn(_run(ctx))


async def _run(ctx: ServiceContext) -> None:
    guidance = guidance_of(ctx)
    try:
        ctx.state["subscription"] = await ctx.subscribe(types=list(PLACE_TYPES), path="notify",
                                                        watched=WATCHED)
    except Exception:  # egress refused, …: the plan is still made, but not kept current
        log.exception("evacuation: cannot subscribe to shelter changes")
    await guidance.replan([("", "start")])
    await guidance.worker()


async def stop(ctx: ServiceContext) -> None:
    """Nothing to undo: the subscription is replaced at the next start."""
