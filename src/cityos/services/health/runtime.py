"""The health service at start: the town's risk model — the file named by the setting `model`
(saved by `cityos health model fit`, its card checked), or in the demo one fitted on a
synthetic cohort in the background (the page says 準備中 until it is ready)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from cityos.services.health.card import ModelFileError, load
from cityos.services.health.model import Fitted, fit
from cityos.services.health.synthetic import ONSET, onset_frame
from cityos.services.runtime import ServiceContext

log = logging.getLogger("cityos.services.health")
DEMO_OUTCOME = ("3年以内に血糖が高め（HbA1c 6.0%以上または空腹時血糖110以上）になる",
                "blood sugar high (HbA1c 6.0% or more, or fasting glucose 110 or more) "
                "within three years")


def model_of(ctx: ServiceContext) -> Fitted | None:
    found = ctx.state.get("model")
    return found if isinstance(found, Fitted) else None


def _demo_fit() -> Fitted:
    """Blocking: a model on a synthetic cohort of 1,200 people (a few seconds, one thread)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return fit(onset_frame(1200, seed=2), ONSET, ("boosting",))


async def _fit_demo(ctx: ServiceContext) -> None:
    fitted = await asyncio.to_thread(_demo_fit)
    ctx.state["model"] = fitted
    ctx.state["outcome"] = DEMO_OUTCOME
    log.info("health: demo model %s (beats the baseline: %s)", fitted.kind,
             fitted.beats_baseline)


async def start(ctx: ServiceContext) -> None:
    path = str(ctx.options.get("model") or "")
    if path:
        try:
            fitted, card = await asyncio.to_thread(load, Path(path))
        except ModelFileError as exc:
            log.error("health: the risk model is not used: %s", exc.en)
            return
        ctx.state["model"], ctx.state["card"] = fitted, card
        ctx.state["outcome"] = (str(card.get("outcome", "")), str(card.get("outcome", "")))
    elif ctx.settings.services.demo:
        ctx.spawn(_fit_demo(ctx))
