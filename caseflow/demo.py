"""A realistic demo street for newcomers: organisation, people in every role, categories, grids,
and a few hundred cases and instructions driven through the transition service.

Every state an item reaches is reached by ``transition.start``/``transition.fire``, so the
ledger, the deadline rows and their scheduled jobs are the real thing. Choices come from
``random.Random(seed)``: the same seed gives the same street and the same paths.
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caseflow.errors import DomainError
from caseflow.models import (
    ActionGroup,
    Area,
    Case,
    Category,
    Center,
    Department,
    DutyShift,
    Grid,
    Instruction,
    LeaderPosition,
    Person,
    utcnow,
)
from caseflow.security.actor import Actor
from caseflow.security.passwords import hash_password
from caseflow.services import transition
from caseflow.services.people import create_person
from caseflow.workflow.engine import WorkflowCatalog

log = logging.getLogger(__name__)

DEMO_PASSWORD = "caseflow-demo"
TZ = ZoneInfo("Asia/Shanghai")
BASE_LON, BASE_LAT = 121.4700, 31.2300  # a made-up street; grids are small rectangles east of here

# code, name, kind, field of its work
DEPARTMENTS = [
    ("SAN", "环卫所", "unit", "city"),
    ("ROAD", "市政养护所", "unit", "city"),
    ("LIGHT", "路灯管理所", "unit", "city"),
    ("ENF", "城管执法中队", "unit", "enforcement"),
    ("PLAN", "规划建设管理办", "department", "construction"),
    ("ENV", "生态环境办", "department", "environment"),
    ("GRID", "网格化综合管理站", "unit", "city"),
]
# Heads, action-group leaders and handlers of each department: (username suffix, name)
STAFF_NAMES = {
    "SAN": ("王建国", "李强", "张伟"), "ROAD": ("刘洋", "陈刚", "杨磊"), "LIGHT": ("赵敏", "黄勇", "周杰"),
    "ENF": ("吴昊", "徐斌", "孙涛"), "PLAN": ("胡静", "朱军", "高峰"), "ENV": ("林芳", "何平", "郭亮"),
    "GRID": ("马超", "罗明", "梁宇"),
}
# code, name, field, in scope, responsible department, default tier
CATEGORIES = [
    ("garbage", "暴露垃圾", "city", True, "SAN", "general"),
    ("fly_posting", "乱张贴乱涂写", "city", True, "GRID", "simple"),
    ("road_damage", "道路破损", "city", True, "ROAD", "general"),
    ("manhole", "井盖缺失", "city", True, "ROAD", "general"),
    ("waterlogging", "道路积水", "city", True, "ROAD", "general"),
    ("street_light", "路灯不亮", "city", True, "LIGHT", "general"),
    ("street_vending", "占道经营", "enforcement", True, "GRID", "simple"),
    ("bike_parking", "共享单车乱停放", "enforcement", True, "GRID", "simple"),
    ("illegal_building", "违法建设", "construction", True, "PLAN", "complex"),
    ("construction_waste", "建筑垃圾偷倒", "enforcement", True, "ENF", "complex"),
    ("old_housing", "老旧小区综合整治", "construction", True, "PLAN", "difficult"),
    ("river_pollution", "跨区域河道污染", "environment", True, "ENV", "difficult"),
    ("noise", "噪声扰民", "environment", True, "ENV", "general"),
    ("cooking_fumes", "餐饮油烟扰民", "environment", True, "ENF", "general"),
    ("police", "治安案件", "", False, None, "general"),
    ("traffic_accident", "交通事故", "", False, None, "general"),
    ("medical", "医疗急救", "", False, None, "general"),
]
FIELDS = {"city": "deputy_city", "environment": "deputy_city", "enforcement": "deputy_law",
          "construction": "deputy_law", "safety": "deputy_safety"}
# code, name, area code
GRIDS = [("G01", "和平里网格", "main_urban"), ("G02", "新华路网格", "main_urban"), ("G03", "东风街网格", "main_urban"),
         ("G04", "滨江村网格", "other"), ("G05", "北郊工业园网格", "other")]
STREETS = ["和平路", "新华路", "东风街", "解放路", "人民路", "滨江大道", "建设路", "工业园一路", "文化街", "幸福里"]

RESULTS = ["已清理完毕，现场恢复整洁。", "已修复，现场照片已上传。", "已依法劝离并责令整改。", "已更换设施，恢复正常。",
           "已联系产权单位处理完毕。"]
SITUATIONS = ["已到场，现场情况属实，正在处置。", "已到场，已设置围挡和警示标志。", "已到场，现场秩序正常，正在排查。"]
CHECK_FAILS = ["现场核查仍有垃圾残留，请返工。", "照片与现场不符，请重新处置。"]
TIER_WEIGHTS = [("simple", 25), ("general", 45), ("complex", 18), ("difficult", 12)]
CHANNEL_WEIGHTS = [("patrol", 35), ("hotline", 30), ("app", 15), ("sensor", 10), ("linkage_110", 5), ("referral", 5)]

# A path is a list of (trigger, who); who is "dispatcher", "liaison", "leader" or "handler"
# (a handler of the department that holds the item at that moment).
CASE_PATHS: dict[str, list[tuple[int, list[tuple[str, str]]]]] = {
    "case_simple": [
        (7, [("report_result", "handler"), ("check_pass", "dispatcher"), ("archive", "dispatcher")]),
        (2, [("report_result", "handler"), ("check_fail", "dispatcher"), ("report_result", "handler"),
             ("check_pass", "dispatcher")]),
        (1, [("void", "dispatcher")]),
    ],
    "case_general": [
        (6, [("register", "dispatcher"), ("dispatch", "dispatcher"), ("sign", "handler"),
             ("report_result", "handler"), ("check_pass", "dispatcher"), ("archive", "dispatcher")]),
        (2, [("verify_report", "dispatcher"), ("register", "dispatcher"), ("dispatch", "dispatcher"),
             ("supervise", "dispatcher"), ("sign", "handler"), ("report_result", "handler")]),
        (2, [("register", "dispatcher"), ("dispatch", "dispatcher"), ("sign", "handler"),
             ("report_result", "handler"), ("check_fail", "dispatcher"), ("report_result", "handler"),
             ("check_pass", "dispatcher")]),
        (1, [("register", "dispatcher"), ("misdispatch", "dispatcher"), ("redispatch", "dispatcher"),
             ("sign", "handler")]),
        (1, [("void", "dispatcher")]),
    ],
    "case_complex": [
        (5, [("register", "dispatcher"), ("dispatch", "dispatcher"), ("sign", "handler"),
             ("supervise", "leader"), ("report_result", "handler"), ("check_pass", "dispatcher"),
             ("archive", "dispatcher")]),
        (1, [("void", "dispatcher")]),
    ],
    "case_difficult": [
        (5, [("register", "dispatcher"), ("escalate_to_district", "dispatcher"),
             ("start_joint_handling", "dispatcher"), ("supervise", "leader"), ("report_result", "handler"),
             ("check_pass", "dispatcher"), ("archive", "dispatcher")]),
        (1, [("void", "dispatcher")]),
    ],
}
INSTRUCTION_PATHS: list[tuple[int, list[tuple[str, str]]]] = [
    (6, [("sign", "liaison"), ("dispatch", "liaison"), ("arrive", "handler"), ("report_result", "handler"),
         ("report_to_110", "liaison")]),
    (2, [("sign", "liaison"), ("dispatch", "liaison"), ("explain_delay", "handler"), ("arrive", "handler"),
         ("report_result", "handler"), ("report_to_110", "liaison")]),
    (1, [("sign", "liaison"), ("dispatch", "liaison"), ("arrive", "handler"), ("report_not_ours", "handler"),
         ("report_result", "handler"), ("report_to_110", "liaison")]),
    (1, [("sign", "liaison"), ("dispatch", "liaison"), ("arrive", "handler"), ("open_follow_up", "handler"),
         ("report_result", "handler")]),
]
OUT_OF_SCOPE_PATH = [("sign", "liaison"), ("decline", "liaison")]


@dataclass
class Street:
    """What the organisation step made, by name, for the item steps."""

    district: Center
    street: Center
    departments: dict[str, Department]
    people: dict[str, Person]
    handlers: dict[int, Person]  # department id -> a handler
    categories: list[Category]
    grids: list[Grid]
    grid_area: dict[int, str]  # grid id -> area kind
    usernames: list[tuple[str, str]] = field(default_factory=list)  # (username, what they are)


def _weighted(rng: random.Random, options: list[tuple[Any, int]]) -> Any:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options], k=1)[0]


def _is_empty(session: Session) -> bool:
    for model in (Person, Department, Case, Instruction):
        if session.execute(select(func.count()).select_from(model)).scalar():
            return False
    return True


def load_demo(session: Session, catalog: WorkflowCatalog, cases: int = 300, instructions: int = 80,
              seed: int = 20240601) -> str:
    """Load the demo street into an empty database and return a summary with the usernames.

    A database that already has people, departments, cases or instructions is left alone
    (the returned message says so).
    """
    if not _is_empty(session):
        return "数据库中已有数据，未加载示范数据 (the database is not empty: demo data left alone)"
    started = time.monotonic()
    rng = random.Random(seed)
    street = _organisation(session)
    _current_shift(session, catalog, street)
    case_stats = _cases(session, catalog, street, rng, cases)
    instruction_stats = _instructions(session, catalog, street, rng, instructions)
    took = time.monotonic() - started
    lines = [
        f"示范数据已加载 (demo data loaded in {took:.1f} s): "
        f"{len(street.departments)} departments, {len(street.people)} people, {len(street.categories)} categories, "
        f"{len(street.grids)} grids, {cases} cases ({_fmt(case_stats)}), "
        f"{instructions} instructions ({_fmt(instruction_stats)}).",
        f"Sign in at /login with any of these usernames, password {DEMO_PASSWORD!r}:",
    ]
    width = max(len(u) for u, _ in street.usernames)
    lines += [f"  {u.ljust(width)}  {what}" for u, what in street.usernames]
    return "\n".join(lines)


def _fmt(stats: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(stats.items()))


# --------------------------------------------------------------------------- organisation


def _organisation(session: Session) -> Street:
    """Centers, departments with heads and action groups, people, leader positions, categories, grids."""
    district = Center(code="D01", name="示范区城运中心", level="district")
    street = Center(code="S01", name="示范街道城运中心", level="street", parent=district)
    session.add_all([district, street])
    areas = {}
    for code, name in (("main_urban", "主城区"), ("other", "其它区域")):
        area = session.execute(select(Area).where(Area.code == code)).scalar_one_or_none()
        if area is None:  # `caseflow init` makes these; a bare test database may not have them
            area = Area(code=code, name=name, kind=code)
            session.add(area)
        areas[code] = area
    departments = {}
    for code, name, kind, _field in DEPARTMENTS:
        departments[code] = Department(code=code, name=name, kind=kind, center=street)
    session.add_all(departments.values())
    session.flush()

    # One argon2 hash for everyone: they share the demo password and argon2 is slow on purpose.
    pw_hash = hash_password(DEMO_PASSWORD)
    people: dict[str, Person] = {}
    usernames: list[tuple[str, str]] = []

    def person(username: str, name: str, roles: list[str], what: str, dept: Department | None = None,
               center: Center | None = street) -> Person:
        p = create_person(session, username, name, "", roles, department_id=dept.id if dept else None,
                          center_id=center.id if center else None, phone=f"1380000{len(people):04d}",
                          email=f"{username}@demo.caseflow.local", channels=["wecom", "sms"],
                          commit=False, password_hash=pw_hash)
        people[username] = p
        usernames.append((username, what))
        return p

    person("admin", "系统管理员", ["admin"], "admin 系统管理员")
    person("liaison", "应急联络员 陈晓", ["liaison"], "liaison 应急联络员")
    person("liaison2", "应急联络员 宋佳", ["liaison"], "liaison 应急联络员")
    person("dispatcher", "受理派遣员 韩雪", ["dispatcher"], "dispatcher 受理派遣员")
    person("dispatcher2", "受理派遣员 冯凯", ["dispatcher"], "dispatcher 受理派遣员")
    person("duty_lead", "值班长 唐亮", ["duty_lead"], "duty_lead 值班长")
    person("duty_lead2", "值班长 许静", ["duty_lead"], "duty_lead 值班长")
    person("duty_officer", "值班员 邓辉", ["duty_officer"], "duty_officer 值班员")
    person("duty_officer2", "值班员 曹丽", ["duty_officer"], "duty_officer 值班员")
    person("principal", "主要领导 彭志远", ["leader"], "leader 主要领导 (principal)")
    person("deputy_city", "分管领导 董文华", ["leader"], "leader 分管领导: 市容市政、生态环境")
    person("deputy_law", "分管领导 袁立新", ["leader"], "leader 分管领导: 城管执法、规划建设")
    person("deputy_safety", "分管领导 蒋海涛", ["leader"], "leader 分管领导: 平安建设")
    person("district_leader", "区城运中心 主任 潘振华", ["leader"], "leader 区城运中心 (district)", center=district)

    handlers: dict[int, Person] = {}
    for code, dept in departments.items():
        head_name, group_name, handler_name = STAFF_NAMES[code]
        low = code.lower()
        head = person(f"{low}_head", f"{dept.name}负责人 {head_name}", ["handler"], f"handler {dept.name} 负责人", dept)
        group_leader = person(f"{low}_group", f"{dept.name}应急行动组组长 {group_name}", ["handler"],
                              f"handler {dept.name} 应急行动组组长", dept)
        handler = person(f"{low}_handler", f"{dept.name} {handler_name}", ["handler"], f"handler {dept.name}", dept)
        session.flush()
        dept.head_id = head.id
        session.add(ActionGroup(department_id=dept.id, name=f"{dept.name}应急行动组", leader_id=group_leader.id))
        handlers[dept.id] = handler
    grid_leader_names = ["韦东", "秦岚", "蔡洪", "田甜", "姜波"]
    for i, name in enumerate(grid_leader_names, start=1):
        person(f"grid{i:02d}", f"网格长 {name}", ["handler"], f"handler 网格长 G{i:02d}", departments["GRID"])
    session.flush()

    for fld, username in FIELDS.items():
        session.add(LeaderPosition(center_id=street.id, kind="deputy_in_charge", field=fld,
                                   person_id=people[username].id))
    session.add(LeaderPosition(center_id=street.id, kind="principal", field="", person_id=people["principal"].id))
    session.add(LeaderPosition(center_id=district.id, kind="principal", field="",
                               person_id=people["district_leader"].id))

    categories = []
    for code, name, fld, in_scope, dept_code, tier in CATEGORIES:
        cat = Category(code=code, name=name, field=fld, in_scope=in_scope, default_tier=tier,
                       responsible_department_id=departments[dept_code].id if dept_code else None)
        categories.append(cat)
    session.add_all(categories)

    grids = []
    grid_area = {}
    for i, (code, name, area_code) in enumerate(GRIDS):
        x0, y0 = BASE_LON + i * 0.012, BASE_LAT
        x1, y1 = x0 + 0.01, y0 + 0.008
        grid = Grid(code=code, name=name, area=areas[area_code], center=street, leader=people[f"grid{i + 1:02d}"],
                    shape={"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
        grids.append(grid)
    session.add_all(grids)
    session.flush()
    for grid in grids:
        grid_area[grid.id] = grid.area.kind
    session.commit()
    return Street(district, street, departments, people, handlers, categories, grids, grid_area, usernames)


def _current_shift(session: Session, catalog: WorkflowCatalog, street: Street) -> None:
    """Today's 08:30-to-08:30 shift, started by its shift lead."""
    local_now = utcnow().astimezone(TZ)
    start_local = local_now.replace(hour=8, minute=30, second=0, microsecond=0)
    if local_now < start_local:
        start_local -= timedelta(days=1)
    lead = street.people["duty_lead"]
    shift = DutyShift(center_id=street.street.id, starts_at=start_local.astimezone(timezone.utc),
                      ends_at=(start_local + timedelta(days=1)).astimezone(timezone.utc), lead_id=lead.id)
    try:
        transition.start(session, catalog, shift, workflow="duty_shift", actor=Actor.system("demo"), role="system")
        transition.fire(session, catalog, "duty_shift", shift.id, "start", actor=Actor.from_person(lead))
    except (DomainError, KeyError) as exc:  # the duty workflow may ask for more than the demo knows
        log.warning("demo shift not started: %s", exc)
        session.rollback()


# --------------------------------------------------------------------------- items


def _point_in(grid: Grid, rng: random.Random) -> tuple[float, float]:
    ring = grid.shape["coordinates"][0] if grid.shape else [[BASE_LON, BASE_LAT], [BASE_LON + 0.01, BASE_LAT + 0.008]]
    (x0, y0), (x1, y1) = ring[0], ring[2]
    return round(rng.uniform(x0, x1), 6), round(rng.uniform(y0, y1), 6)


def _past(rng: random.Random, finished: bool) -> timedelta:
    """How long ago an item came in: finished items days ago, open ones within hours."""
    minutes = rng.randint(60 * 24, 60 * 24 * 30) if finished else rng.randint(2, 60 * 8)
    return timedelta(minutes=minutes)


def _actor_for(who: str, item: Any, street: Street, rng: random.Random) -> Actor:
    people = street.people
    if who == "handler":
        handler = street.handlers.get(item.department_id)
        if handler is None:  # nobody holds it yet; the transition will refuse, as it should
            handler = people["grid01"]
        return Actor.from_person(handler)
    if who == "leader":
        return Actor.from_person(people[rng.choice(["deputy_city", "deputy_law"])])
    if who == "dispatcher":
        return Actor.from_person(people[rng.choice(["dispatcher", "dispatcher2"])])
    return Actor.from_person(people[rng.choice(["liaison", "liaison2"])])


def _data_for(trigger: str, item: Any, street: Street, rng: random.Random, responsible: int | None) -> dict[str, Any]:
    others = [d.id for d in street.departments.values() if d.id != responsible and d.code != "GRID"]
    return {
        "report_result": lambda: {"result": rng.choice(RESULTS)},
        "check_fail": lambda: {"reason": rng.choice(CHECK_FAILS)},
        # void reasons are codes (duplicate / out_of_scope / not_registrable); the words go in the note
        "void": lambda: dict(zip(("reason", "note"), rng.choice([("duplicate", "重复上报"), ("out_of_scope", "不属于受理范围"),
                                                                 ("not_registrable", "经核实不存在该问题")]))),
        "verify_report": lambda: {"question": "请补充具体位置和现场照片"},
        "dispatch": lambda: {"department_id": responsible},
        "misdispatch": lambda: {"department_id": rng.choice(others)},
        "redispatch": lambda: {"department_id": responsible, "reason": "原派遣部门申明非本部门职责，二次派遣"},
        "supervise": lambda: {"method": rng.choice(["phone", "written", "on_site"]),
                              "requirement": "请加快处置，今日内反馈结果"},
        "escalate_to_district": lambda: {"reason": "涉及多个区级部门，需区城运中心协调联合处置"},
        "start_joint_handling": lambda: {"department_id": responsible},
        "explain_delay": lambda: {"reason": "道路拥堵，预计迟到 10 分钟"},
        "arrive": lambda: {"situation": rng.choice(SITUATIONS)},
        "report_not_ours": lambda: {"explanation": "现场确认属供电公司设施，已维持秩序等待责任单位到场"},
        "open_follow_up": lambda: {"explanation": "需协调施工单位，明日继续跟进"},
        "decline": lambda: {"explanation": "该事项不属于本局受理范围，已当场向市联动中心说明"},
    }.get(trigger, lambda: {})()


# A 1x1 PNG: the site photo (现场照片) a simple case's result must carry.
SITE_PHOTO = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                           "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e5270de1"
                           "0000000049454e44ae426082")


def _site_photo(session: Session, item: Any, actor: Actor) -> str:
    """Upload the demo's site photo to a simple case; its reference for the result."""
    import io

    from caseflow.services import attachments

    row = attachments.store(session, item_type="case", item_id=item.id, actor=actor, filename="现场照片.png",
                            stream=io.BytesIO(SITE_PHOTO))
    return f"attachment:{row.id}"


def _drive(session: Session, catalog: WorkflowCatalog, item: Any, path: list[tuple[str, str]], steps: int,
           street: Street, rng: random.Random, responsible: int | None) -> bool:
    """Fire the first ``steps`` triggers of ``path``; stop (and say so) at the first refusal."""
    for trigger, who in path[:steps]:
        real = "dispatch" if trigger == "misdispatch" else trigger
        try:
            actor = _actor_for(who, item, street, rng)
            data = _data_for(trigger, item, street, rng, responsible)
            if real == "report_result" and getattr(item, "tier", None) == "simple":
                data["evidence_refs"] = [_site_photo(session, item, actor)]
            item = transition.fire(session, catalog, item.item_type, item.id, real, actor=actor, data=data)
        except DomainError as exc:
            # A definition changed since this demo was written: keep the item where it is.
            log.info("demo %s %s stopped before %s: %s", item.item_type, item.id, real, exc)
            return False
    return True


def _steps(rng: random.Random, path: list[tuple[str, str]]) -> int:
    """How far along its path an item gets: about half finish, the rest stop somewhere."""
    return len(path) if rng.random() < 0.45 else rng.randint(0, len(path) - 1)


def _start_actor(channel: str, street: Street, grid: Grid) -> tuple[Actor, str]:
    if channel == "patrol":
        return Actor.from_person(grid.leader or street.people["grid01"]), "handler"
    if channel == "referral":
        return Actor.from_person(street.people["dispatcher"]), "dispatcher"
    return Actor.client_of(channel), channel


def _cases(session: Session, catalog: WorkflowCatalog, street: Street, rng: random.Random, count: int) -> dict[str, int]:
    by_tier: dict[str, list[Category]] = {}
    for cat in street.categories:
        if cat.in_scope:
            by_tier.setdefault(cat.default_tier, []).append(cat)
    stats: dict[str, int] = {}
    now = utcnow()
    tiers = [t for t, _ in TIER_WEIGHTS]
    for n in range(count):
        # The first four cover every tier, so even a small demo has all four workflows.
        tier = tiers[n] if n < len(tiers) else _weighted(rng, TIER_WEIGHTS)
        category = rng.choice(by_tier[tier])
        workflow = f"case_{tier}"
        weight_paths = CASE_PATHS[workflow]
        path = _weighted(rng, [(p, w) for w, p in weight_paths])
        steps = _steps(rng, path)
        grid = rng.choice(street.grids)
        channel = "patrol" if tier == "simple" else _weighted(rng, CHANNEL_WEIGHTS)
        reported = now - _past(rng, steps == len(path))
        lon, lat = _point_in(grid, rng)
        address = f"{rng.choice(STREETS)}{rng.randint(1, 300)}号附近"
        case = Case(
            number=f"AJ{reported.astimezone(TZ):%Y%m%d}{n + 1:05d}", channel=channel,
            external_ref=f"12345-{rng.randint(10**7, 10**8 - 1)}" if channel == "hotline" else None,
            tier=tier, urgent=category.code == "manhole", category_id=category.id, center_id=street.street.id,
            grid_id=grid.id, area_kind=street.grid_area[grid.id],
            # A simple case stays with the patrol that found it and handles it on the spot.
            department_id=category.responsible_department_id if tier == "simple" else None,
            reporter_id=(grid.leader_id if channel == "patrol" else None),
            title=f"{category.name}：{address}", description=f"{address}发现{category.name}问题，请处理。",
            address=address, lat=lat, lon=lon, reported_at=reported,
        )
        actor, role = _start_actor(channel, street, grid)
        transition.start(session, catalog, case, workflow=workflow, actor=actor, role=role, trigger="report",
                         payload={"channel": channel})
        if not _drive(session, catalog, case, path, steps, street, rng, category.responsible_department_id):
            stats["stopped early"] = stats.get("stopped early", 0) + 1
        stats[workflow] = stats.get(workflow, 0) + 1
    return stats


def _instructions(session: Session, catalog: WorkflowCatalog, street: Street, rng: random.Random,
                  count: int) -> dict[str, int]:
    in_scope = [c for c in street.categories if c.in_scope]
    out_scope = [c for c in street.categories if not c.in_scope]
    stats: dict[str, int] = {}
    now = utcnow()
    for n in range(count):
        out = bool(out_scope) and (n == 1 or rng.random() < 0.12)
        category = rng.choice(out_scope if out else in_scope)
        path = OUT_OF_SCOPE_PATH if out else _weighted(rng, [(p, w) for w, p in INSTRUCTION_PATHS])
        steps = _steps(rng, path)
        grid = rng.choice(street.grids)
        received = now - (_past(rng, True) if steps == len(path) else timedelta(minutes=rng.randint(1, 50)))
        lon, lat = _point_in(grid, rng)
        address = f"{rng.choice(STREETS)}{rng.randint(1, 300)}号"
        severity = _weighted(rng, [("ordinary", 85), ("larger", 12), ("major", 3)])
        instruction = Instruction(
            number=f"ZL{received.astimezone(TZ):%Y%m%d}{n + 1:04d}", received_at=received, category_id=category.id,
            grid_id=grid.id, area_kind=street.grid_area[grid.id], address=address, lat=lat, lon=lon,
            description=f"市民报称{address}{category.name}，请速派员处置。",
            caller_contact=f"139{rng.randint(10**7, 10**8 - 1)}", severity=severity,
        )
        transition.start(session, catalog, instruction, workflow="instruction", actor=Actor.client_of("linkage_110"),
                         role="linkage_110", trigger="receive", payload={"number": instruction.number})
        finished = _drive(session, catalog, instruction, path, steps, street, rng, category.responsible_department_id)
        key = "declined" if out else ("finished" if finished and steps == len(path) else "open")
        stats[key] = stats.get(key, 0) + 1
        if not finished:
            stats["stopped early"] = stats.get("stopped early", 0) + 1
    return stats


__all__ = ["DEMO_PASSWORD", "load_demo"]
