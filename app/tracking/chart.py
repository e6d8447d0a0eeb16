"""A small server-rendered SVG line chart (no JavaScript, no CDN) for the engagement report."""
from datetime import datetime
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40
SERIES_COLORS = {"sends": "#2758c9", "opens": "#1e7d3a", "clicks": "#b35c00"}


def _nice_max(value: int) -> int:
    step = 1
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if value <= factor * step:
            return max(factor * step, 1)
    return value


def _label(moment: datetime, bucket: str, previous: datetime | None = None) -> str:
    if bucket == "day":
        return moment.strftime("%d %b")
    same_day = previous is not None and previous.date() == moment.date()
    return moment.strftime("%H:00" if same_day else "%d %b %H:00")


def series_in(points: list) -> list:
    """The series names that have data, in drawing order."""
    present = {name for _, values in points for name in values}
    return [name for name in SERIES_COLORS if name in present]


def line_chart(points: list, bucket: str, title: str) -> Markup:
    """An accessible SVG of ``points`` [(datetime, {"sends": n, "opens": n, "clicks": n})]."""
    if not points:
        return Markup("")
    peak = _nice_max(max(max(values.values(), default=0) for _, values in points))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = inner_w / max(len(points) - 1, 1)

    def x(i):
        return LEFT + (i * step if len(points) > 1 else inner_w / 2)

    def y(v):
        return TOP + inner_h - inner_h * v / peak

    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title" '
           f'xmlns="http://www.w3.org/2000/svg"><title id="chart-title">{escape(title)}</title>']
    for fraction in (0, .5, 1):
        value, gy = round(peak * fraction), y(peak * fraction)
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}" class="grid"/>'
                   f'<text x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end">{value}</text>')
    label_every = -(-len(points) // 6)  # at most six labels
    previous = None
    for i, (moment, _) in enumerate(points):
        if i % label_every == 0:
            out.append(f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">'
                       f'{escape(_label(moment, bucket, previous))}</text>')
            previous = moment
    for name in series_in(points):
        color = SERIES_COLORS[name]
        coords = " ".join(f"{x(i):.1f},{y(values.get(name, 0)):.1f}" for i, (_, values) in enumerate(points))
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{coords}">'
                   f'<title>{name}</title></polyline>')
        for i, (moment, values) in enumerate(points):
            out.append(f'<circle cx="{x(i):.1f}" cy="{y(values.get(name, 0)):.1f}" r="3" fill="{color}">'
                       f'<title>{name} {escape(_label(moment, bucket))}: {values.get(name, 0)}</title></circle>')
    out.append("</svg>")
    return Markup("".join(out))
