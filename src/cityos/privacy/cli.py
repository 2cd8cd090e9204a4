"""`cityos privacy extract`: an anonymised extract (匿名加工情報) of checkup records, with its
re-identification risk report and the public notice of its items, written side by side.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cityos.cli_errors import existing_platform, fail

privacy_app = typer.Typer(no_args_is_help=True, add_completion=False,
                          help="anonymised extracts (匿名加工情報) for research")


@privacy_app.callback()
def _root() -> None:
    """Anonymised extracts (匿名加工情報) for research."""


def _names(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def research_frame(frame: Any, one_per_resident: bool) -> Any:
    """Checkup rows ready for an extract: the latest checkup of each resident (one record per
    person) and the judgement level of every measure (`hba1c_level`: 0 within range,
    1 guidance, 2 referral) usable as a categorical sensitive attribute."""
    from cityos.services.health.items import MEASURES
    frame = frame.copy()
    if one_per_resident and {"resident_id", "exam_date"} <= set(frame.columns):
        frame = (frame.sort_values("exam_date").groupby("resident_id", as_index=False).tail(1)
                 .reset_index(drop=True))
    for item in MEASURES:
        if item.key in frame.columns and f"{item.key}_level" not in frame.columns:
            sexes = frame["sex"] if "sex" in frame.columns else [""] * len(frame)
            frame[f"{item.key}_level"] = [
                None if v != v else item.level(float(v), str(s))  # NaN stays empty
                for v, s in zip(frame[item.key], sexes, strict=True)]
    return frame


async def _from_platform(data_dir: Path) -> tuple[Any, set[str]]:
    """The health service's checkups and its research opt-outs, read under its identity."""
    from cityos.privacy.platform import checkups_frame, opted_out
    from cityos.services.runtime import open_platform
    from cityos.settings import load_settings

    async with open_platform(load_settings(data_dir), "health") as platform:
        ctx = platform.context("health")
        return await checkups_frame(ctx), await opted_out(ctx)


async def _record(data_dir: Path, name: str, digests: dict[str, str],
                  report: dict[str, Any]) -> str:
    from cityos.privacy.platform import record
    from cityos.services.runtime import open_platform
    from cityos.settings import load_settings

    async with open_platform(load_settings(data_dir), "health") as platform:
        return await record(platform.context("health"), name, digests, report)


@privacy_app.command("extract")
def extract_command(
    out: Annotated[Path, typer.Option("--out", help="the extract (CSV); report and notice "
                                      "are written beside it")],
    quasi: Annotated[str, typer.Option("--quasi", help="quasi-identifiers, comma-separated")
                     ] = "age,sex,area",
    sensitive: Annotated[str, typer.Option("--sensitive", help="the sensitive column")
                         ] = "hba1c_level",
    keep: Annotated[str, typer.Option("--keep", help="other columns to keep, comma-separated")
                    ] = "",
    k: Annotated[int, typer.Option("--k", help="at least k people per class")] = 5,
    l_div: Annotated[int, typer.Option("--l", help="at least l sensitive values per class")
                     ] = 2,
    source: Annotated[Path | None, typer.Option("--input", help="checkup CSV with an area "
                                                "column")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="checkups: through the "
                                                "platform")] = None,
    opted_out: Annotated[Path | None, typer.Option(
        "--opted-out", help="file of resident ids who opted out, one a line")] = None,
    max_suppression: Annotated[float, typer.Option("--max-suppression",
                                                   help="largest share of rows suppressed")
                               ] = 0.05,
    creator: Annotated[str, typer.Option("--creator", help="who makes it")] = "豊能町",
    recipient: Annotated[str, typer.Option("--recipient", help="who receives it")
                         ] = "共同研究先の大学 / the partner university",
    method: Annotated[str, typer.Option("--method", help="how it is handed over")
                      ] = "暗号化した電子ファイルの手渡し / an encrypted file handed over",
    seed: Annotated[int | None, typer.Option("--seed", help="row-shuffle seed (tests only)")
                    ] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="the platform (with "
                                                  "--dataset)")] = None,
) -> None:
    """Make an anonymised extract: identifiers deleted, quasi-identifiers generalised,
    k-anonymity and l-diversity met, opted-out residents left out."""
    import pandas as pd

    from cityos.privacy.anonymise import ExtractError, anonymise
    from cityos.privacy.report import public_notice, report_markdown, risk_report
    if (source is None) == (dataset is None):
        fail("--input か --dataset のどちらか一方を指定してください",
             "give either --input or --dataset")
    if not 0 <= max_suppression < 1:
        fail("--max-suppression は 0 以上 1 未満です", "--max-suppression must be in [0, 1)")
    out_of: set[str] = set()
    if opted_out is not None:
        out_of = {s.strip() for s in opted_out.read_text("utf-8").splitlines() if s.strip()}
    if dataset is not None:
        if dataset != "checkups":
            fail("--dataset は checkups だけです", "--dataset must be checkups")
        if data_dir is None:
            fail("--dataset には --data-dir が必要です", "--dataset needs --data-dir")
        existing_platform(data_dir, (data_dir / "cityos.db").exists())
        raw, refused = asyncio.run(_from_platform(data_dir))
        out_of |= refused
    else:
        assert source is not None
        if not source.is_file():
            fail(f"{source} がありません", f"{source} does not exist")
        raw = pd.read_csv(source)
    if raw.empty:
        fail("健診の記録がありません", "there are no checkups")
    frame = research_frame(raw, one_per_resident=True)
    try:
        extract = anonymise(frame, _names(quasi), sensitive, k, l_div, _names(keep),
                            sorted(out_of), max_suppression, seed=seed)
    except ExtractError as exc:
        fail(exc.ja, exc.en)
    report = risk_report(extract)
    extract.table.to_csv(out, index=False)
    base = out.with_suffix("")
    Path(f"{base}.report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    Path(f"{base}.report.md").write_text(report_markdown(report), "utf-8")
    Path(f"{base}.notice.md").write_text(
        public_notice(report, list(extract.table.columns), creator, recipient, method,
                      dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=9)))
                      .date()), "utf-8")
    if data_dir is not None:
        files = (out, Path(f"{base}.report.json"), Path(f"{base}.report.md"),
                 Path(f"{base}.notice.md"))
        digests = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
        ident = asyncio.run(_record(data_dir, out.stem, digests, report))
        typer.echo(f"記録 / recorded: {ident}")
    typer.echo(f"{report['records']['out']} 件 / records → {out} (k={report['achieved']['k']}, "
               f"l={report['achieved']['l']}, suppressed {report['records']['suppressed']}, "
               f"opted out {report['records']['optedOutRemoved']}); "
               f"{base}.report.md, {base}.notice.md")
