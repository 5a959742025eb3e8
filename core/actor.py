"""Who is acting. Edges build an Actor from the request; services take it as an argument."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    kind: str  # "citizen" | "officer" | "system"
    id: int | None
    roles: tuple[str, ...] = ()
    region_code: str | None = None  # officer's scope
    role_regions: dict[str, str] = field(default_factory=dict)  # reporter role -> region
    ip: str | None = None
    user_agent: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}" if self.id is not None else self.kind

    @property
    def primary_role(self) -> str:
        return self.roles[0] if self.roles else self.kind


SYSTEM = Actor(kind="system", id=None, roles=("system",))
