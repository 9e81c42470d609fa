"""Names of indicators, slices and stages (Chinese, English), shared by the XLSX and the console."""
from __future__ import annotations

# (key, zh, en, kind) — kind: count | rate | score | minutes (a value in seconds, shown in minutes)
CASE_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("reported", "上报", "Reported", "count"),
    ("registered", "立案", "Registered", "count"),
    ("voided", "作废", "Voided", "count"),
    ("dispatched", "派遣", "Dispatched", "count"),
    ("closed", "结案", "Closed", "count"),
    ("closure_rate", "结案率", "Closure rate", "rate"),
    ("closed_on_time", "按期结案", "Closed on time", "count"),
    ("on_time_closure_rate", "按期结案率", "On-time closure rate", "rate"),
    ("void_rate", "作废率", "Void rate", "rate"),
    ("reworked", "返工案件", "Reworked", "count"),
    ("rework_rate", "返工率", "Rework rate", "rate"),
    ("return_requests", "申请退单", "Return requests", "count"),
    ("returns_approved", "同意退单", "Returns approved", "count"),
    ("returns_rejected", "驳回退单", "Returns rejected", "count"),
    ("return_rate", "退单率", "Return rate", "rate"),
    ("return_approval_rate", "退单同意率", "Return approval rate", "rate"),
    # Wall clock, request to decision (caseflow.services.returns.review_seconds); data in
    # seconds, shown and exported in minutes.
    ("return_review_mean_s", "退单平均审核用时（分钟）", "Mean return review time (min)", "minutes"),
    ("extended", "延期案件", "Extended", "count"),
    ("extension_rate", "延期率", "Extension rate", "rate"),
    ("deferred", "缓办案件", "Deferred", "count"),
    ("deferral_rate", "缓办率", "Deferral rate", "rate"),
    ("supervisions", "督办次数", "Supervisions", "count"),
    ("callbacks", "回访", "Callbacks", "count"),
    ("satisfaction", "满意度（1-5）", "Satisfaction (1-5)", "score"),
    ("satisfied_rate", "满意率", "Satisfied rate", "rate"),
)

INSTRUCTION_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("received", "接收指令", "Received", "count"),
    ("declined", "不予受理", "Declined", "count"),
    ("dispatched", "派遣", "Dispatched", "count"),
    ("arrived", "到场", "Arrived", "count"),
    ("arrived_on_time", "按时到场", "Arrived on time", "count"),
    ("arrival_on_time_rate", "按时到场率", "Arrival on-time rate", "rate"),
    ("closed", "办结", "Closed", "count"),
)

SLICES = {
    "department": ("分部门", "By department"),
    "category": ("分类型", "By category"),
    "grid": ("分网格", "By grid"),
    "channel": ("分渠道", "By channel"),
    "tier": ("分级别", "By tier"),
    "hour": ("分时段", "By hour"),
    "severity": ("分等级", "By severity"),
    "area": ("分区域", "By area"),
}

STAGES = {
    "review": ("审核立案", "Review"),
    "dispatch": ("立案→派遣", "Register to dispatch"),
    "sign": ("派遣→签收", "Dispatch to sign"),
    "handle": ("处置→反馈", "Handling"),
    "check": ("核查→结案", "Check"),
    "total": ("上报→结案", "Report to close"),
    "arrival": ("派遣→到场", "Dispatch to arrival"),
}
# An instruction's stages: its sign time counts from receipt (there is no dispatch before it).
INSTRUCTION_STAGES = {
    "sign": ("接收→签收", "Receipt to sign"),
    "arrival": ("派遣→到场", "Dispatch to arrival"),
}

LANGUAGES = ("zh", "en")

# Display names of the enumerated slice keys, (zh, en). A stored report keeps the Chinese one
# in each row's ``label``; an English page or workbook swaps it with :func:`key_label`.
KEY_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "channel": {"patrol": ("巡查", "Patrol"), "hotline": ("12345", "12345 hotline"), "app": ("随手拍/App", "Citizen app"),
                "sensor": ("物联感知", "IoT sensor"), "linkage_110": ("110 联动", "110 linkage"),
                "referral": ("部门转办", "Referral")},
    "tier": {"simple": ("简单", "Simple"), "general": ("一般", "General"), "complex": ("复杂", "Complex"),
             "difficult": ("疑难", "Difficult")},
    "severity": {"ordinary": ("一般", "Ordinary"), "larger": ("较大", "Larger"), "major": ("重大", "Major")},
    "area": {"main_urban": ("主城区", "Main urban area"), "other": ("其它区域", "Other area")},
}
TOTAL_LABEL = ("合计", "Total")
UNSET_LABEL = ("（未指定）", "(not set)")


def pick(names: tuple[str, ...], lang: str) -> str:
    """The ``lang`` name of a ``(zh, en)`` pair."""
    return names[1] if lang == "en" else names[0]


def key_label(dim: str, key: str | None, stored: str, lang: str) -> str:
    """The display name of slice key ``key`` of ``dim`` in ``lang``; names from the data (departments,
    categories, grids) stay as stored."""
    if lang != "en":
        return stored
    if key is None:
        return pick(TOTAL_LABEL if dim == "total" else UNSET_LABEL, lang)
    names = KEY_LABELS.get(dim, {}).get(str(key))
    return pick(names, lang) if names else stored
