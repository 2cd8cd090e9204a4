"""Time-series charts drawn on the server as inline SVG (no chart library, no script): a line
of an attribute's numeric history with labelled axes and a text alternative."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html import escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 28, 36
JST = timezone(timedelta(hours=9), "JST")  # the town's clock


@dataclass(frozen=True)
class Series:
    attr: str
    unit: str
    points: list[tuple[float, float]]  # (epoch seconds, value), oldest first

    @property
    def low(self) -> float:
        return min(v for _, v in self.points)

    @property
    def high(self) -> float:
        return max(v for _, v in self.points)


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.2f}"


def _clock(epoch: float, span: float) -> str:
    """A time on the axis, as precise as the chart's span asks (the town's clock, JST)."""
    shape = "%H:%M:%S JST" if span < 3600 else "%m-%d %H:%M JST"
    return datetime.fromtimestamp(epoch, JST).strftime(shape)


def line_chart(series: Series, title: str) -> str:
    """An accessible SVG line chart (role=img, <title>) of `series` (at least one point)."""
    pts = series.points
    t0, t1 = pts[0][0], pts[-1][0]
    low, high = series.low, series.high
    if high == low:
        low, high = low - 1, high + 1
    span_t = (t1 - t0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (t - t0) / span_t * plot_w

    def y(v: float) -> float:
        return TOP + (high - v) / (high - low) * plot_h

    path = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(v):.1f}" for i, (t, v) in enumerate(pts))
    dots = "".join(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5"/>' for t, v in pts[-60:])
    grid = "".join(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
        f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{_fmt(v)}</text>'
        for v in (low, (low + high) / 2, high))
    unit = f" ({escape(series.unit)})" if series.unit else ""
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
            f"<title>{escape(title)}</title>{grid}"
            f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" class="axis"/>'
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" '
            f'y2="{HEIGHT - BOTTOM}" class="axis"/>'
            f'<path d="{path}" class="line"/><g class="dots">{dots}</g>'
            f'<text x="{LEFT}" y="{HEIGHT - 10}">{_clock(t0, t1 - t0)}</text>'
            f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 10}" text-anchor="end">{_clock(t1, t1 - t0)}</text>'
            f'<text x="{LEFT}" y="16">'
            f"{escape(series.attr)}{unit}</text></svg>")
