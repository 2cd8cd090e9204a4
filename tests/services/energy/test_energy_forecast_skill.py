"""The forecast beats smart persistence on measured irradiance (pvlib's Miami TMY2), scored
on days it was not fitted on, and the report says where the cloud model alone does not."""

from __future__ import annotations

import numpy as np
import pytest

from cityos.services.energy.evaluation import HORIZONS, evaluate, load_measured
from cityos.services.energy.forecast import smart_persistence


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    return evaluate()


def test_scored_hours_are_measured_and_not_trained_on(result) -> None:  # type: ignore[no-untyped-def]
    frame, _ = load_measured()
    measured_test = int((frame["measured"] & (frame["day"] > 15)).sum())
    for s in result.scores:
        assert 1000 < s.hours <= measured_test  # daylight measured hours of days 16-end


def test_served_forecast_beats_smart_persistence_at_every_horizon(result) -> None:  # type: ignore[no-untyped-def]
    blend = {s.horizon: s for s in result.scores if s.method == "blend"}
    assert sorted(blend) == sorted(HORIZONS)
    assert all(s.skill > 0.05 for s in blend.values()), blend


def test_cloud_model_alone_loses_at_one_hour_and_says_so(result) -> None:  # type: ignore[no-untyped-def]
    cloud = {s.horizon: s.skill for s in result.scores if s.method == "cloud"}
    assert cloud[1] < 0 < cloud[24]


def test_smart_persistence_carries_the_last_daylight_index() -> None:
    kt = np.array([np.nan, 0.5, 0.8, np.nan, np.nan, 0.3])
    out = smart_persistence(kt, 2)
    assert np.isnan(out[0]) and np.isnan(out[1]) and np.isnan(out[2])
    assert out[3] == 0.5 and out[4] == 0.8 and out[5] == 0.8
