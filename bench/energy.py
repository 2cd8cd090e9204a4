"""Solar forecast skill against smart persistence on measured data (issue 23, net zero).

    python -m bench energy [--json] [--figure docs/services/energy-skill.svg] [--noise-scale K]

Data: pvlib's bundled Miami TMY2 (measured GHI hours only), days 1-15 of each month train,
days 16-end are scored; see src/cityos/services/energy/evaluation.py for the stand-in cloud
forecast. Prints RMSE/MAE (kW of a 10 kWp system, W/m2 of GHI) and skill per horizon.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cityos.services.energy.evaluation import Evaluation, Score, evaluate

COLOURS = {"cloud": "#8a5a00", "blend": "#1f5fa8"}
LABELS = {"cloud": "雲量予報のみ cloud forecast only", "blend": "配信する予報 served blend"}


def table(result: Evaluation) -> str:
    rows = ["| horizon | method | RMSE kW | MAE kW | RMSE W/m² | MAE W/m² | skill | hours |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s in result.scores:
        name = "day-ahead (24 h)" if s.horizon == 24 else f"{s.horizon} h"
        rows.append(f"| {name} | {s.method} | {s.rmse_kw:.3f} | {s.mae_kw:.3f} | "
                    f"{s.rmse_ghi:.1f} | {s.mae_ghi:.1f} | {s.skill:+.3f} | {s.hours} |")
    return "\n".join(rows)


def figure(scores: list[Score]) -> str:
    """A bar chart of skill per horizon (SVG, no plotting library)."""
    horizons = sorted({s.horizon for s in scores})
    width, height, left, top, bottom = 640, 320, 70, 40, 60
    plot_h = height - top - bottom
    lo, hi = -0.1, 0.4
    y = lambda v: top + (hi - v) / (hi - lo) * plot_h  # noqa: E731
    group = (width - left - 20) / len(horizons)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">',
           '<title>Forecast skill vs smart persistence / 予報の改善率</title>',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for tick in (-0.1, 0.0, 0.1, 0.2, 0.3, 0.4):
        out.append(f'<line x1="{left}" x2="{width - 20}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                   f'stroke="{"#000" if tick == 0 else "#ddd"}"/>')
        out.append(f'<text x="{left - 8}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:+.1f}</text>')
    for i, h in enumerate(horizons):
        x0 = left + i * group + group * 0.15
        for j, method in enumerate(("cloud", "blend")):
            s = next(s for s in scores if s.horizon == h and s.method == method)
            x = x0 + j * group * 0.35
            y0, y1 = sorted((y(0.0), y(s.skill)))
            out.append(f'<rect x="{x:.1f}" y="{y0:.1f}" width="{group * 0.33:.1f}" '
                       f'height="{max(y1 - y0, 1):.1f}" fill="{COLOURS[method]}"/>')
            ty = y(s.skill) - 5 if s.skill >= 0 else y(s.skill) + 15
            out.append(f'<text x="{x + group * 0.165:.1f}" y="{ty:.1f}" text-anchor="middle">'
                       f'{s.skill:+.2f}</text>')
        label = "前日 day-ahead" if h == 24 else f"{h} 時間 h"
        out.append(f'<text x="{left + i * group + group / 2:.1f}" y="{height - bottom + 20}" '
                   f'text-anchor="middle">{label}</text>')
    out.append(f'<text x="{left}" y="22">予報の改善率（スマート持続予報比, RMSE） / skill vs smart '
               'persistence</text>')
    for j, method in enumerate(("cloud", "blend")):
        lx = left + j * 270
        out.append(f'<rect x="{lx}" y="{height - 22}" width="12" height="12" '
                   f'fill="{COLOURS[method]}"/>')
        out.append(f'<text x="{lx + 18}" y="{height - 12}">{LABELS[method]}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench energy")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--figure", type=Path, help="write the skill chart (SVG) here")
    parser.add_argument("--noise-scale", type=float, default=1.0,
                        help="multiply the stand-in cloud forecast's error (sensitivity)")
    args = parser.parse_args(argv)
    result = evaluate(noise_scale=args.noise_scale)
    if args.figure:
        args.figure.write_text(figure(result.scores), "utf-8")
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    m = result.model
    print(f"{result.dataset}\ntraining hours (days 1-15): {result.train_hours}; cloud model "
          f"kt = {m.a:.3f} - {m.b:.3f} (cover/100)^{m.p:.3f}; blend weights of persistence "
          f"{result.weights}")
    print(table(result))
    losers = [s for s in result.scores if s.method != "persistence" and s.skill <= 0]
    for s in losers:
        print(f"does NOT beat smart persistence: {s.method} at {s.horizon} h "
              f"(skill {s.skill:+.3f})")
    served = [s for s in result.scores if s.method == "blend"]
    return 0 if all(s.skill > 0 for s in served) else 1
