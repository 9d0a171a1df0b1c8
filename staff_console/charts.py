"""Accessible bar charts as inline SVG: a text alternative on the image and the same figures in a table beside it."""

from __future__ import annotations

from typing import Any

BAR_HEIGHT = 28
GAP = 10
LABEL_WIDTH = 150
BAR_SPACE = 330
VALUE_WIDTH = 70


def bars(chart_id: str, title: str, items: list[tuple[str, int]], unit: str) -> dict[str, Any]:
    """Geometry for one horizontal bar chart; the template draws it and the data table."""
    top = max((value for _label, value in items), default=0)
    rows = []
    for i, (label, value) in enumerate(items):
        width = 0 if top == 0 else max(2, round(BAR_SPACE * value / top)) if value else 0
        rows.append({"label": label, "value": value, "y": i * (BAR_HEIGHT + GAP), "width": width})
    summary = "；".join(f"{label}{value}{unit}" for label, value in items) or "没有数据"
    return {
        "id": chart_id,
        "title": title,
        "unit": unit,
        "rows": rows,
        "summary": f"{title}：{summary}。",
        "height": max(1, len(items)) * (BAR_HEIGHT + GAP),
        "width": LABEL_WIDTH + BAR_SPACE + VALUE_WIDTH,
        "label_width": LABEL_WIDTH,
        "bar_height": BAR_HEIGHT,
        "total": sum(value for _label, value in items),
    }
