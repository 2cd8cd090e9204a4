"""`cityos energy …`: the CO2 report, the day-ahead solar forecast, the forecast's skill.

    cityos energy report --data-dir DIR --year 2026 [--json]   # the platform's ledger
    cityos energy report --usage ledger.csv --year 2026         # a ledger file
    cityos energy forecast dayahead.csv [--json]                # forecast + shelter autonomy
    cityos energy evaluate [--json]                             # skill vs smart persistence
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from cityos.cli_errors import fail


def _fail(message: str) -> None:
    """`fail` with a "ja / en" message."""
    ja, _, en = message.partition(" / ")
    fail(ja, en or ja)

energy_app = typer.Typer(no_args_is_help=True, add_completion=False,
                         help="Energy and net zero (エネルギー・脱炭素)")


@energy_app.callback()
def _root() -> None:
    """Energy and net zero: solar forecasts, shelter backup power, CO2 accounts."""


async def _platform_usages(data_dir: Path) -> tuple[list[Any], dict[str, Any]]:
    from cityos.services.energy import ledger
    from cityos.services.runtime import open_platform
    from cityos.settings import load_settings

    settings = load_settings(data_dir=data_dir)
    async with open_platform(settings, "energy") as platform:
        ctx = platform.context("energy")
        return await ledger.read(ctx.client), ctx.options


def report_text(data: dict[str, Any]) -> str:
    f = data["gridFactor"]
    lines = [f"{data['fiscalYear']}年度 CO2排出量 / FY{data['fiscalYear']} CO2 emissions "
             f"(months: {', '.join(data['months']) or '-'})"]
    for ln in data["lines"]:
        lines.append(f"  Scope {ln['scope']} {ln['category']} {ln['label']['ja']}: "
                     f"{ln['quantity']:,.1f} {ln['unit']} -> {ln['tCO2']:.3f} t-CO2")
    lines.append(f"  合計 total: {data['totalTCO2']:.3f} t-CO2 (Scope 1 {data['scope1TCO2']:.3f}, "
                 f"Scope 2 {data['scope2TCO2']:.3f})")
    year = f"{f['factorYear']}年度" if f["factorYear"] else "町の設定"
    lines.append(f"  電気の排出係数 grid factor: {f['kgPerKWh']} kg-CO2/kWh ({f['utility']}, "
                 f"{year}, {f['kind']})")
    if f["note"]["ja"]:
        lines.append(f"  注意: {f['note']['ja']} / note: {f['note']['en']}")
    pv = data["pv"]
    lines.append(f"  太陽光 solar: {pv['generatedKWh']:,.1f} kWh generated, "
                 f"{pv['selfConsumedKWh']:,.1f} kWh used on site, "
                 f"avoided {pv['avoidedTCO2']:.3f} t-CO2 (not subtracted)")
    road = data["roadmap"]
    if road["pathTCO2"] is not None:
        state = "達成 on track" if road["onTrack"] else "未達 above the path"
        lines.append(f"  ロードマップ roadmap: path {road['pathTCO2']:.1f} t-CO2 for the year, "
                     f"{road['pathForMonthsTCO2']:.1f} for its {len(data['months'])} months "
                     f"(FY2013 {road['baselineTCO2']:.1f} t, -50% by 2030, 0 by 2050): {state}")
    else:
        lines.append("  ロードマップ: 基準年度(2013)の排出量が未設定 / roadmap: no FY2013 "
                     "baseline set (services.options.energy.baseline_t_co2)")
    return "\n".join(lines)


@energy_app.command("report")
def report_command(
    year: Annotated[int, typer.Option("--year", help="fiscal year (年度, April-March)")],
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="the platform's data")] = None,
    usage: Annotated[Path | None, typer.Option("--usage", help="a ledger CSV instead")] = None,
    factor: Annotated[float | None, typer.Option("--factor", help="grid kg-CO2/kWh")] = None,
    baseline: Annotated[float | None, typer.Option("--baseline", help="FY2013 t-CO2")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """The fiscal year's CO2 report: Scope 1 fuels, Scope 2 electricity, PV avoided."""
    from cityos.services.energy import carbon, ledger

    if not 1990 <= year <= 2100:
        fail("年度は1990〜2100で指定してください", "the year must be 1990-2100")
    options: dict[str, Any] = {}
    if usage is not None:
        try:
            usages = ledger.parse_csv(usage.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            _fail(str(exc))
    elif data_dir is not None:
        usages, options = asyncio.run(_platform_usages(data_dir))
    else:
        fail("--data-dir か --usage を指定してください", "give --data-dir or --usage")
    try:
        choice = carbon.grid_factor(year, options.get("utility", "関西電力"),
                                    options.get("factor_kind", "basic"),
                                    factor if factor is not None else options.get("grid_factor"))
        if baseline is None:
            baseline = options.get("baseline_t_co2") or carbon.baseline_from(usages)
        rep = carbon.yearly_report(usages, year, choice, baseline)
    except ValueError as exc:
        fail(f"排出係数または燃料が不明です: {exc}", f"unknown emission factor or fuel: {exc}")
    data = rep.to_json()
    typer.echo(orjson.dumps(data).decode() if as_json else report_text(data))


@energy_app.command("forecast")
def forecast_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="day-ahead input")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Forecast the town's PV systems from a day-ahead file; flag shelters before a storm."""
    from cityos.services.energy.dayahead import FileSource, ForecastInputError
    from cityos.services.energy.outlook import outlook

    try:
        views = outlook(FileSource(file))
    except ForecastInputError as exc:
        fail(exc.ja, exc.en)
    except UnicodeDecodeError:
        fail("UTF-8 のCSVではありません", "not a UTF-8 CSV file")
    if as_json:
        typer.echo(orjson.dumps({"sites": [v.to_json() for v in views]}).decode())
        return
    for v in views:
        a = v.autonomy
        flag = "⚠ 要対策 FLAG" if a.flag else "ok"
        lasts = f"≥{a.hours:.0f}" if a.whole_window else f"{a.hours:.1f}"
        typer.echo(f"{v.site.system.name}: {v.energy_kwh:.1f} kWh forecast; backup power "
                   f"{lasts} h{' (storm)' if a.storm else ''} [{flag}]")


@energy_app.command("evaluate")
def evaluate_command(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Score the forecast against smart persistence on pvlib's measured sample data."""
    from cityos.services.energy.evaluation import evaluate

    result = evaluate()
    if as_json:
        typer.echo(orjson.dumps(result.to_json()).decode())
        return
    typer.echo(f"{result.dataset}; train {result.train_hours} h (days 1-15), "
               f"scored days 16-end")
    for s in result.scores:
        typer.echo(f"  {s.horizon:>2} h {s.method:<11} RMSE {s.rmse_kw:.3f} kW  "
                   f"MAE {s.mae_kw:.3f} kW  skill {s.skill:+.3f}  ({s.hours} h)")
