"""SVG primitives for the project's inline figures (the audit report, the filter benchmark).

Hand-written because the figures are a few lines and boxes each and the design card adds no
plotting library; every figure is built from these so the two reports look alike.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

FONT = "font-family:sans-serif;font-size:11px"


def svg(width: int, height: int, body: list[str], label: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{html.escape(label)}' "
        f"style='{FONT}'>{''.join(body)}</svg>"
    )


def text(x: float, y: float, text: str, anchor: str = "start", fill: str = "#1f2328") -> str:
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' fill='{fill}'>"
        f"{html.escape(text)}</text>"
    )


def rect(x: float, y: float, width: float, height: float, fill: str) -> str:
    return (
        f"<rect x='{x:.1f}' y='{y:.1f}' width='{max(width, 0.0):.1f}' "
        f"height='{max(height, 0.0):.1f}' fill='{fill}'/>"
    )


def line(
    x1: float, y1: float, x2: float, y2: float, stroke: str, width: float = 1, dash: str = ""
) -> str:
    dashes = f" stroke-dasharray='{dash}'" if dash else ""
    return (
        f"<line x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' y2='{y2:.1f}' "
        f"stroke='{stroke}' stroke-width='{width}'{dashes}/>"
    )


def legend(x: float, y: float, items: Sequence[tuple[str, str]]) -> list[str]:
    body = []
    for label, colour in items:
        body += [rect(x, y - 8, 10, 10, colour), text(x + 14, y + 1, label)]
        x += 18 + 7 * len(label)
    return body
