"""The energy service in a served demo town (a real `cityos serve` over HTTP): the API's
forecast, shelter flags and CO2 report, its answers to bad input, and the staff's and the
residents' pages."""

from __future__ import annotations

import subprocess
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from conftest import CITYOS

API = "/services/v1/energy"
DAY_AHEAD = ("time,cloud_cover,temp_air,wind_speed,storm\n"
             + "".join(f"2026-12-08T{h:02d}:00+09:00,20,8,2,0\n" for h in range(1, 24)))


@pytest.fixture
def town(serve, tmp_path: Path):  # type: ignore[no-untyped-def]
    data = tmp_path / "town"
    done = subprocess.run([CITYOS, "init", "--data-dir", str(data)], capture_output=True,
                          text=True, check=True)
    admin = {"Authorization": f"Bearer {done.stdout.strip().splitlines()[-1]}"}
    (data / "cityos.toml").write_text('[services]\nenabled = ["energy"]\ndemo = true\n', "utf-8")
    server = serve(data_dir=data)
    deadline = time.monotonic() + 120  # the demo data is written in the background
    while time.monotonic() < deadline:
        r = httpx.get(f"{server.url}{API}/report", headers=admin, timeout=30)
        if r.status_code == 200 and r.json()["months"]:
            break
        time.sleep(0.5)
    return server.url, admin


def test_api_forecast_flags_and_report(town) -> None:  # type: ignore[no-untyped-def]
    url, admin = town
    shelters = httpx.get(f"{url}{API}/autonomy", headers=admin).json()["shelters"]
    assert {s["place"] for s in shelters} == {"吉川小学校", "老人福祉センター豊寿荘",
                                              "光風台小学校", "東能勢中学校"}
    assert all(s["storm"] and s["flag"] and s["hours"] < 72 for s in shelters)  # storm tomorrow
    forecast = httpx.get(f"{url}{API}/forecast", headers=admin).json()["sites"]
    assert all(sum(h["kW"] for h in s["hourly"]) > 0 for s in forecast)
    year = datetime.now(ZoneInfo("Asia/Tokyo"))
    fy = year.year if year.month >= 4 else year.year - 1
    report = httpx.get(f"{url}{API}/report", params={"year": fy}, headers=admin).json()
    assert report["fiscalYear"] == fy and report["totalTCO2"] > 0
    assert {ln["category"] for ln in report["lines"]} == {"電気", "燃料"}
    assert report["pv"]["avoidedTCO2"] > 0
    assert report["roadmap"]["baselineTCO2"] > report["totalTCO2"]  # FY2013 from the ledger
    paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    assert {f"{API}/forecast", f"{API}/autonomy", f"{API}/report"} <= set(paths)


def test_bad_input_is_a_problem_in_both_languages(town) -> None:  # type: ignore[no-untyped-def]
    url, admin = town
    r = httpx.get(f"{url}{API}/report", params={"year": "abc"}, headers=admin)
    assert r.status_code == 400 and "年度" in r.json()["detail"] and "fiscal" in r.json()["detail"]
    r = httpx.post(f"{url}{API}/forecast", content="time,cloud_cover\n2026-12-08T09:00,40\n",
                   headers={**admin, "Content-Type": "text/csv"})
    assert r.status_code == 400 and "時差" in r.json()["detail"]
    r = httpx.post(f"{url}{API}/forecast", content=b"\xff\xfe", headers={
        **admin, "Content-Type": "text/csv"})
    assert r.status_code == 400
    r = httpx.post(f"{url}{API}/forecast", content=DAY_AHEAD,
                   headers={**admin, "Content-Type": "text/csv"})
    assert r.status_code == 200 and not any(s["autonomy"]["flag"] for s in r.json()["sites"])
    assert httpx.get(f"{url}{API}/report").status_code == 401  # no token, no report


def test_console_and_resident_pages(town) -> None:  # type: ignore[no-untyped-def]
    url, admin = town
    page = httpx.get(f"{url}/console/energy", headers=admin)
    assert page.status_code == 200
    text = page.text
    assert "暴風の予報" in text and "要対策" in text and "吉川小学校" in text
    assert "urn:ngsi-ld" not in text and "+00:00" not in text
    signup = httpx.post(f"{url}/auth/residents", data={"login": "hanako",
                                                       "password": "hanako-no-himitsu"})
    resident = {"Authorization": f"Bearer {signup.json()['access_token']}"}
    app = httpx.get(f"{url}/app/energy", headers=resident)
    assert app.status_code == 200 and "kWh" in app.text and "CO2" in app.text
    assert "urn:ngsi-ld" not in app.text
    assert httpx.get(f"{url}/console/energy", headers=resident).status_code in (401, 403)


STORMY = ("time,cloud_cover,temp_air,wind_speed,storm\n"
          + "".join(f"2026-12-08T{h:02d}:00+09:00,{30 if h < 12 else 100},8,"
                    f"{2 if h < 12 else 26},0\n" for h in range(1, 24)))


def test_a_town_without_the_demo_feeds_its_day_ahead_input(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "plain"
    done = subprocess.run([CITYOS, "init", "--data-dir", str(data)], capture_output=True,
                          text=True, check=True)
    admin = {"Authorization": f"Bearer {done.stdout.strip().splitlines()[-1]}"}
    (data / "dayahead.csv").write_text(STORMY, "utf-8")
    (data / "cityos.toml").write_text('[services]\nenabled = ["energy"]\n\n'
                                      '[services.options.energy]\n'
                                      'forecast_file = "dayahead.csv"\n', "utf-8")
    url = serve(data_dir=data).url
    deadline = time.monotonic() + 60  # the file is read in the background at start
    while not httpx.get(f"{url}{API}/autonomy", headers=admin).json()["shelters"]:
        assert time.monotonic() < deadline, "the day-ahead file was not read"
        time.sleep(0.5)
    shelters = httpx.get(f"{url}{API}/autonomy", headers=admin).json()["shelters"]
    assert all(s["flag"] for s in shelters)  # 26 m/s from noon: a storm by the wind alone
    page = httpx.get(f"{url}/console/energy", headers=admin).text
    assert "要対策" in page and "メーターのデータが届くと" in page
    r = httpx.put(f"{url}{API}/weather", content=DAY_AHEAD,
                  headers={**admin, "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    shelters = httpx.get(f"{url}{API}/autonomy", headers=admin).json()["shelters"]
    assert shelters and not any(s["flag"] for s in shelters)
    r = httpx.put(f"{url}{API}/weather", content="time,cloud_cover\nyesterday,10\n",
                  headers={**admin, "Content-Type": "text/csv"})
    assert r.status_code == 400 and "時刻" in r.json()["detail"]
    signup = httpx.post(f"{url}/auth/residents", data={"login": "taro",
                                                       "password": "taro-no-himitsu-1"})
    resident = {"Authorization": f"Bearer {signup.json()['access_token']}",
                "Content-Type": "text/csv"}
    assert httpx.put(f"{url}{API}/weather", content=STORMY, headers=resident).status_code == 403
