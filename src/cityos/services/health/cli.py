"""`cityos health`: import checkup CSVs, fit and evaluate the onset-risk model, explain one
person's risk, and write the public acceptance data (scikit-learn's diabetes data) as CSV.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cityos.cli_errors import fail

health_app = typer.Typer(no_args_is_help=True, add_completion=False,
                         help="Health (⑧): checkups and the onset-risk model")
model_app = typer.Typer(no_args_is_help=True, add_completion=False,
                        help="the onset-risk model: fit, evaluate, explain")
health_app.add_typer(model_app, name="model")

Existing = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a CSV file")]
Target = Annotated[str, typer.Option("--target", help="the 0/1 outcome column")]
AsJson = Annotated[bool, typer.Option("--json", help="print one JSON object")]


@health_app.callback()
def _root() -> None:
    """Health (⑧ 健康・医療): checkup records and the onset-risk model."""


def _frame(path: Path) -> Any:
    import pandas as pd
    try:
        return pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as exc:
        fail(f"{path} をCSVとして読めません", f"cannot read {path} as CSV ({exc})")


@health_app.command("import")
def import_command(
    file: Existing,
    out: Annotated[Path | None, typer.Option("--out", help="write the entities here (JSON)")
                   ] = None,
) -> None:
    """Read a checkup CSV (docs/services/health.md) into HealthCheckup entities."""
    from cityos.services.health.importer import CheckupFormatError, entities, read_checkups
    try:
        found = entities(read_checkups(file.read_text("utf-8")))
    except CheckupFormatError as exc:
        fail(exc.ja, exc.en)
    except UnicodeDecodeError:
        fail(f"{file} はUTF-8ではありません", f"{file} is not UTF-8")
    text = json.dumps(found, ensure_ascii=False, indent=1)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", "utf-8")
        typer.echo(f"{len(found)} 件の健診 / checkups → {out}")


def _limit_threads() -> Any:
    from threadpoolctl import threadpool_limits
    return threadpool_limits(1)  # the machine is shared; the data is small


@model_app.command("fit")
def fit_command(
    train: Existing, target: Target,
    out: Annotated[Path, typer.Option("--out", help="where to save the model")],
    approved_by: Annotated[str, typer.Option("--approved-by", help="who approved it")
                           ] = "未承認 / not approved",
    data: Annotated[str, typer.Option("--data", help="what the training data is")] = "",
    period: Annotated[str, typer.Option("--period", help="the checkups' period")] = "",
    outcome: Annotated[str, typer.Option("--outcome", help="what the target means")] = "",
    seed: Annotated[int, typer.Option("--seed", help="seed of the folds and the model")] = 0,
    kind: Annotated[str, typer.Option("--kind", help="auto, boosting, spline or logistic")
                    ] = "auto",
    as_json: AsJson = False,
) -> None:
    """Fit the model and a logistic-regression baseline on the same folds; save the model and
    its card only if it is no worse than the baseline (AUC and Brier score)."""
    from cityos.services.health import card as cards
    from cityos.services.health.model import KINDS, ModelDataError, fit
    if kind != "auto" and kind not in KINDS:
        fail(f"--kind は auto, {', '.join(KINDS)} のどれかです",
             f"--kind must be auto or one of {', '.join(KINDS)}")
    frame = _frame(train)
    try:
        with _limit_threads():
            fitted = fit(frame, target, KINDS if kind == "auto" else (kind,), seed=seed)
    except ModelDataError as exc:
        fail(exc.ja, exc.en)
    report = {"kind": fitted.kind,
              "model": fitted.validation["model"].as_dict(),
              "baseline": fitted.validation["baseline"].as_dict(),
              "saved": fitted.beats_baseline}
    m, b = fitted.validation["model"], fitted.validation["baseline"]
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
    else:
        typer.echo(f"model ({fitted.kind}): AUC {m.auc:.3f}, Brier {m.brier:.3f}; "
                   f"logistic baseline: AUC {b.auc:.3f}, Brier {b.brier:.3f} "
                   "(5-fold, same folds)")
    if not fitted.beats_baseline:
        fail("モデルがロジスティック回帰（基準）より劣るため保存しません",
             "the model does worse than the logistic-regression baseline; not saved",
             code=1)
    card = cards.card_of(fitted, data or train.name, period or "不明 / unknown", approved_by,
                         outcome or target, dt.datetime.now(dt.UTC))
    cards.save(fitted, out, card)
    if not as_json:
        typer.echo(f"saved {out} and {out.name}.card.json / .card.md")


def _load(path: Path) -> Any:
    from cityos.services.health.card import ModelFileError, load
    try:
        return load(path)
    except ModelFileError as exc:
        fail(exc.ja, exc.en)


@model_app.command("evaluate")
def evaluate_command(
    model: Annotated[Path, typer.Argument(help="a model saved by `fit`")],
    test: Existing, target: Target, as_json: AsJson = False,
) -> None:
    """AUC, Brier score, calibration table and confusion at the chosen threshold, for the model
    and the logistic baseline on the same test file."""
    from cityos.services.health.model import ModelDataError, evaluate
    fitted, card = _load(model)
    if target != fitted.target:
        fail(f"このモデルの目的変数は「{fitted.target}」です",
             f"this model predicts '{fitted.target}', not '{target}'")
    try:
        with _limit_threads():
            scores = evaluate(fitted, _frame(test))
    except ModelDataError as exc:
        fail(exc.ja, exc.en)
    out = {"model": {"kind": fitted.kind, **scores["model"].as_dict()},
           "baseline": scores["baseline"].as_dict(),
           "threshold": round(fitted.threshold, 4),
           "modelNotWorse": scores["model"].auc >= scores["baseline"].auc,
           "approvedBy": card.get("approvedBy")}
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    for name in ("model", "baseline"):
        s = scores[name]
        c = s.confusion
        typer.echo(f"{name}: AUC {s.auc:.3f}, Brier {s.brier:.3f}, at threshold: "
                   f"TP {c['tp']} FP {c['fp']} TN {c['tn']} FN {c['fn']}")
        for row in s.calibration:
            typer.echo(f"  risk {row['from']:.2f}–{row['to']:.2f}: n {row['n']}, "
                       f"predicted {row['predicted']:.2f}, observed {row['observed']:.2f}")


@model_app.command("explain")
def explain_command(
    model: Annotated[Path, typer.Argument(help="a model saved by `fit`")],
    file: Existing,
    row: Annotated[int, typer.Option("--row", help="which data row (1 = first)")] = 1,
    as_json: AsJson = False,
) -> None:
    """One person's risk and the factors that raise it, in plain Japanese."""
    from cityos.services.health.explain import reasons
    fitted, _card = _load(model)
    frame = _frame(file)
    if not 1 <= row <= len(frame):
        fail(f"--row は 1〜{len(frame)} です", f"--row must be 1–{len(frame)}")
    with _limit_threads():
        risk, found = reasons(fitted, frame.iloc[row - 1].to_dict())
    if as_json:
        typer.echo(json.dumps({"risk": round(risk, 4),
                               "reasons": [{"feature": r.feature, "points": r.points,
                                            "ja": r.ja, "en": r.en} for r in found]},
                              ensure_ascii=False))
        return
    typer.echo(f"リスク / risk: {risk * 100:.0f}%")
    for r in found:
        typer.echo(f"- {r.ja} / {r.en}")


@health_app.command("dataset")
def dataset_command(
    out: Annotated[Path, typer.Option("--out", help="directory for train.csv and test.csv")],
    seed: Annotated[int, typer.Option("--seed", help="seed of the split")] = 0,
) -> None:
    """Write scikit-learn's bundled diabetes data (Efron et al. 2004, 442 patients) as
    train.csv / test.csv (70/30, stratified) with the 0/1 target `high_progression`."""
    from cityos.services.health.acceptance import write_split
    out.mkdir(parents=True, exist_ok=True)
    train, test = write_split(out, seed)
    typer.echo(f"{train} ({seed=}), {test}")


@health_app.command("sample")
def sample_command(
    out: Annotated[Path, typer.Option("--out", help="the CSV to write")],
    people: Annotated[int, typer.Option("--people", help="fictional residents")] = 400,
    years: Annotated[int, typer.Option("--years", help="yearly checkups each")] = 3,
    seed: Annotated[int, typer.Option("--seed", help="seed")] = 0,
) -> None:
    """Write synthetic checkups of fictional residents of Toyono's real town areas in the
    documented CSV layout (no real person's data), to try the import and the extracts."""
    import json as _json
    import random
    from importlib import resources

    from cityos.services.health.synthetic import synthetic_checkups, to_csv
    if not 1 <= people <= 100_000 or not 1 <= years <= 20:
        fail("--people は1〜100000、--years は1〜20です",
             "--people must be 1–100000 and --years 1–20")
    areas = [a["town"] for a in _json.loads(resources.files("cityos.town").joinpath(
        "data", "town_areas_centroids.json").read_text("utf-8"))]
    rng = random.Random(seed)
    who = [(f"resident-{n:05d}", "MF"[int(rng.random() < 0.55)], rng.randint(40, 74),
            rng.choice(areas)) for n in range(people)]
    out.write_text(to_csv(synthetic_checkups(who, years=years, seed=seed)), "utf-8")
    typer.echo(f"{people * years} 件 / checkups → {out}")
