"""Small inline SVG figures for the HTML report: no plotting library, no data beyond the plot.

Three pictures, each from a result the audit already holds: the numbers whose frequency
differs most between suspect and reference (the number-frequency detector's evidence), each
detector's statistic against its permutation null (`DetectorResult.null`), and the probe
students' trait scores per seed with the shift's confidence interval.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

from auditor.report.svg import legend as _legend
from auditor.report.svg import line as _line
from auditor.report.svg import rect as _rect
from auditor.report.svg import svg as _svg
from auditor.report.svg import text as _text
from detectors.base import DetectorResult

if TYPE_CHECKING:
    from auditor.probing import ProbeResult

SUSPECT = "#cf222e"
REFERENCE = "#0969da"
NULL = "#8c959f"


def _figure(svg: str, caption: str, kind: str) -> str:
    return (
        f"<figure class='plot' data-plot='{kind}'>{svg}"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def number_frequency_figure(results: Sequence[DetectorResult]) -> str:
    """Paired bars: the share of suspect and reference numbers for the most-shifted numbers."""
    found = [r for r in results if r.name == "number-frequency" and r.evidence]
    if not found:
        return ""
    rows = [e for e in found[0].evidence if "suspect_rate" in e and "reference_rate" in e]
    if not rows:
        return ""
    top = max(max(e["suspect_rate"], e["reference_rate"]) for e in rows) or 1.0
    left, bar, gap, width = 60, 9, 8, 420
    height = 30 + len(rows) * (2 * bar + gap)
    body = _legend(left, 14, [("suspect", SUSPECT), ("reference", REFERENCE)])
    for i, entry in enumerate(rows):
        y = 26 + i * (2 * bar + gap)
        body.append(_text(left - 6, y + bar + 3, str(entry["number"]), "end"))
        for j, (key, colour) in enumerate(
            (("suspect_rate", SUSPECT), ("reference_rate", REFERENCE))
        ):
            length = width * entry[key] / top
            body.append(_rect(left, y + j * bar, length, bar - 1, colour))
            body.append(_text(left + length + 4, y + j * bar + bar - 1, f"{entry[key]:.2%}"))
    svg = _svg(left + width + 70, height, body, "number frequencies, suspect vs reference")
    return _figure(
        svg,
        "The numbers whose share differs most between the suspect and the reference "
        "(share of all numbers in each corpus; number-frequency's evidence).",
        "number-frequency",
    )


def _anchor(x: float, left: float, width: float) -> str:
    """Keep a label by a marker inside the picture: left-aligned near the left edge, etc."""
    if x < left + 60:
        return "start"
    return "end" if x > width - left - 60 else "middle"


def null_figure(result: DetectorResult) -> str:
    """A histogram of the permutation null with the observed statistic as a line."""
    null = result.null
    if null is None or not null.counts:
        return ""
    width, height, left, bottom = 360, 120, 10, 22
    low, high = null.edges[0], null.edges[-1]
    span = (high - low) or 1.0
    tallest = max(null.counts) or 1
    bin_width = (width - 2 * left) / len(null.counts)
    body = []
    for i, count in enumerate(null.counts):
        bar = (height - bottom - 18) * count / tallest
        body.append(_rect(left + i * bin_width, height - bottom - bar, bin_width - 1, bar, NULL))
    x = left + (width - 2 * left) * (result.statistic - low) / span
    colour = SUSPECT if result.flagged else "#1f2328"
    body += [
        _line(left, height - bottom, width - left, height - bottom, "#59636e"),
        _line(x, 14, x, height - bottom, colour, 2),
        _text(x, 11, f"observed {result.statistic:.4g}", _anchor(x, left, width), colour),
        _text(left, height - 6, f"{low:.3g}"),
        _text(width - left, height - 6, f"{high:.3g}", "end"),
    ]
    svg = _svg(width, height, body, f"{result.name}: statistic against its permutation null")
    return _figure(
        svg,
        f"{result.name}: the statistic (line) against {result.n_permutations} row "
        f"permutations (grey); p = {result.p_value:.3g}.",
        "null",
    )


def null_figures(results: Sequence[DetectorResult]) -> str:
    """Every detector's null picture, side by side where the page is wide enough."""
    figures = [figure for figure in (null_figure(r) for r in results) if figure]
    if not figures:
        return ""
    return "<div class='plots'>" + "".join(figures) + "</div>"


def probe_figure(probe: ProbeResult) -> str:
    """Trait score per seed, corpus vs control students, and the shift with its 95% CI."""
    seeds = list(probe.seeds) or list(range(len(probe.corpus)))
    values = [*probe.corpus, *probe.control, probe.base]
    low, high = min(values), max(values)
    pad = (high - low) * 0.15 or 0.01
    low, high = max(0.0, low - pad), high + pad
    width, height, left, top, bottom = 440, 170, 46, 24, 26
    plot_h = height - top - bottom
    column = (width - left - 160) / max(1, len(seeds))

    def y(value: float) -> float:
        return top + plot_h * (1 - (value - low) / (high - low))

    body = _legend(left, 14, [("corpus students", SUSPECT), ("control students", REFERENCE)])
    body += [
        _line(left, top, left, top + plot_h, "#59636e"),
        _text(left - 4, y(high) + 4, f"{high:.3f}", "end"),
        _text(left - 4, y(low) + 4, f"{low:.3f}", "end"),
        _line(left, y(probe.base), left + column * len(seeds), y(probe.base), NULL),
        _text(left + column * len(seeds), y(probe.base) - 3, "untrained", "end", NULL),
    ]
    for i, seed in enumerate(seeds):
        x = left + column * (i + 0.5)
        body += [
            f"<circle cx='{x - 6:.1f}' cy='{y(probe.corpus[i]):.1f}' r='4' fill='{SUSPECT}'/>",
            f"<circle cx='{x + 6:.1f}' cy='{y(probe.control[i]):.1f}' r='4' fill='{REFERENCE}'/>",
            _text(x, height - 8, f"seed {seed}", "middle"),
        ]
    # The shift and its CI on their own axis, to the right.
    shifts = [probe.shift_low, probe.shift_high, 0.0]
    s_low, s_high = min(shifts), max(shifts)
    s_pad = (s_high - s_low) * 0.2 or 0.01
    s_low, s_high = s_low - s_pad, s_high + s_pad

    def sy(value: float) -> float:
        return top + plot_h * (1 - (value - s_low) / (s_high - s_low))

    x = width - 70
    body += [
        _line(x - 30, sy(0.0), x + 30, sy(0.0), NULL),
        _text(x + 32, sy(0.0) + 4, "0", "start", NULL),
        _line(x, sy(probe.shift_low), x, sy(probe.shift_high), "#1f2328", 2),
        f"<circle cx='{x:.1f}' cy='{sy(probe.shift):.1f}' r='4' fill='#1f2328'/>",
        _text(x, height - 8, f"shift {probe.shift:+.3f}", "middle"),
    ]
    svg = _svg(width, height, body, "probe students' trait scores per seed")
    return _figure(
        svg,
        f"Trait score of each seed's students (left) and the shift, corpus minus control, "
        f"with its 95% CI [{probe.shift_low:+.3f}, {probe.shift_high:+.3f}] (right); "
        f"p = {probe.p_value:.3g}.",
        "probe",
    )
