"""Which department a work order should go to, from the categories and areas each department covers.

Only a proposal: the operator sees why it is proposed and chooses. A department that covers
both the order's category and its place beats one that covers only one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from api.models.staff import Department

_SPLIT = re.compile(r"[、,，;；\s]+")


@dataclass(frozen=True)
class Suggestion:
    id: int
    name: str
    why: str


def _items(text: str) -> list[str]:
    return [item for item in _SPLIT.split(text or "") if item]


def suggest_department(departments: Iterable[Department], *, category: str, place: str) -> Suggestion | None:
    best: tuple[int, Suggestion] | None = None
    for dept in departments:
        if not dept.active or dept.id is None:
            continue
        reasons = []
        if category and category in _items(dept.categories):
            reasons.append(f"负责“{category}”类")
        area = next((a for a in _items(dept.areas) if a in place), None)
        if area:
            reasons.append(f"负责{area}")
        if reasons and (best is None or len(reasons) > best[0]):
            best = (len(reasons), Suggestion(dept.id, dept.name, "，".join(reasons)))
    return best[1] if best else None
