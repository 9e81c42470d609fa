"""Builders for test data: a small but complete street."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from caseflow.models import (
    ActionGroup,
    Area,
    Category,
    Center,
    Department,
    Grid,
    LeaderPosition,
    Person,
    PersonRole,
)
from caseflow.security.actor import Actor


def make_person(session: Session, username: str, roles: list[str], department: Department | None = None,
                center: Center | None = None, **kw: Any) -> Person:
    """A person with ``roles`` (password 'secret' when argon2 hashing is available)."""
    p = Person(username=username, full_name=kw.pop("full_name", username), department=department,
               center=center, email=kw.pop("email", f"{username}@example.test"), **kw)
    p.role_rows = [PersonRole(role=r) for r in roles]
    session.add(p)
    session.flush()
    return p


@dataclass
class World:
    """Everything ``build_world`` made, by name."""

    district: Center
    street: Center
    main_area: Area
    other_area: Area
    grid_main: Grid
    grid_other: Grid
    sanitation: Department
    roads: Department
    people: dict[str, Person]
    cat_garbage: Category
    cat_road: Category
    cat_police: Category

    def actor(self, username: str) -> Actor:
        """An ``Actor`` for one of the people."""
        return Actor.from_person(self.people[username])


def build_world(session: Session) -> World:
    """Create a district center, a street, two departments with action groups, people, categories."""
    district = Center(code="D01", name="示范区城运中心", level="district")
    street = Center(code="S01", name="示范街道城运中心", level="street", parent=district)
    main_area = Area(code="main_urban", name="主城区", kind="main_urban")
    other_area = Area(code="other", name="其它区域", kind="other")
    session.add_all([district, street, main_area, other_area])
    session.flush()
    sanitation = Department(code="SAN", name="环卫所", kind="unit", center=street)
    roads = Department(code="ROAD", name="市政养护所", kind="unit", center=street)
    session.add_all([sanitation, roads])
    session.flush()
    people = {}
    for username, roles, dept in [
        ("liaison", ["liaison"], None),
        ("dispatcher", ["dispatcher"], None),
        ("san_handler", ["handler"], sanitation),
        ("san_head", ["handler"], sanitation),
        ("san_group_leader", ["handler"], sanitation),
        ("road_handler", ["handler"], roads),
        ("road_head", ["handler"], roads),
        ("duty_lead", ["duty_lead"], None),
        ("duty_lead2", ["duty_lead"], None),
        ("duty_officer", ["duty_officer"], None),
        ("deputy", ["leader"], None),
        ("principal", ["leader"], None),
        ("admin", ["admin"], None),
    ]:
        people[username] = make_person(session, username, roles, department=dept, center=street)
    sanitation.head = people["san_head"]
    roads.head = people["road_head"]
    session.add(ActionGroup(department=sanitation, name="环卫应急行动组", leader=people["san_group_leader"]))
    session.add(LeaderPosition(center_id=street.id, kind="deputy_in_charge", field="city", person_id=people["deputy"].id))
    session.add(LeaderPosition(center_id=street.id, kind="principal", field="", person_id=people["principal"].id))
    grid_main = Grid(code="G01", name="一号网格", area=main_area, center=street)
    grid_other = Grid(code="G02", name="二号网格", area=other_area, center=street)
    cat_garbage = Category(code="garbage", name="暴露垃圾", field="city", responsible_department=sanitation,
                           default_tier="general")
    cat_road = Category(code="road", name="道路破损", field="city", responsible_department=roads,
                        default_tier="general")
    cat_police = Category(code="police", name="治安案件", field="", in_scope=False)
    session.add_all([grid_main, grid_other, cat_garbage, cat_road, cat_police])
    session.commit()
    return World(district, street, main_area, other_area, grid_main, grid_other, sanitation, roads,
                 people, cat_garbage, cat_road, cat_police)
