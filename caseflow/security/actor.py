"""Who is acting: a person with roles and a department, a machine client, or the system."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    """The caller of a service. ``client`` names a machine client (e.g. ``linkage_110``)."""

    person_id: int | None
    roles: frozenset[str]
    department_id: int | None = None
    center_id: int | None = None
    client: str = ""
    name: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        """The system itself: deadline expiry, sweeper, scheduled reports."""
        return cls(person_id=None, roles=frozenset({"system"}), client=name, name=name)

    @classmethod
    def client_of(cls, kind: str, name: str = "") -> Actor:
        """A machine client such as the 110 linkage center or a sensor gateway."""
        return cls(person_id=None, roles=frozenset({kind}), client=kind, name=name or kind)

    @classmethod
    def from_person(cls, person: object) -> Actor:
        """An actor for a ``Person`` row."""
        return cls(
            person_id=person.id,  # type: ignore[attr-defined]
            roles=frozenset(person.roles),  # type: ignore[attr-defined]
            department_id=person.department_id,  # type: ignore[attr-defined]
            center_id=person.center_id,  # type: ignore[attr-defined]
            name=person.full_name,  # type: ignore[attr-defined]
        )

    def has_any(self, *roles: str) -> bool:
        """True when the actor holds at least one of ``roles``."""
        return bool(self.roles & set(roles))
