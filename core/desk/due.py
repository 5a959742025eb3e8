"""Due-date cues shown next to every deadline: remaining working days, amber when due soon, red when late."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core import workdays
from core.desk.queues import DUE_SOON_WORKING_DAYS


@dataclass(frozen=True)
class DueCue:
    due: date
    state: str  # overdue | soon | ok
    remaining: int  # working days; negative when overdue
    text: str  # 剩余 N 个工作日 · 今日到期 · 已超期 N 个工作日
    estimated: bool  # the year's holidays are not known: counted Monday-Friday

    @property
    def label(self) -> str:
        return {"overdue": "已超期", "soon": "即将到期"}.get(self.state, "")


def cue(due: date | None, today: date) -> DueCue | None:
    if due is None:
        return None
    remaining = workdays.remaining_working_days(today, due)
    if due < today:
        state, text = "overdue", f"已超期{-remaining}个工作日"
    elif remaining <= DUE_SOON_WORKING_DAYS:
        state = "soon"
        text = "今日到期" if due == today else f"剩余{remaining}个工作日"
    else:
        state, text = "ok", f"剩余{remaining}个工作日"
    return DueCue(due, state, remaining, text, workdays.is_estimated(due))
