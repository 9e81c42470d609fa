"""The console's UI strings: Simplified Chinese, with English; ``t(key)`` picks the session's language."""
from __future__ import annotations

from flask import current_app, has_request_context, request, session

LANGUAGES = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "app.title": {"zh": "城运案件与值班系统", "en": "Cases and duty watch"},
    "nav.signin": {"zh": "登录", "en": "Sign in"},
    "nav.signout": {"zh": "退出", "en": "Sign out"},
    "nav.api_docs": {"zh": "API 文档", "en": "API docs"},
    "lang.switch": {"zh": "English", "en": "中文"},
    "login.title": {"zh": "登录", "en": "Sign in"},
    "login.username": {"zh": "用户名", "en": "Username"},
    "login.password": {"zh": "密码", "en": "Password"},
    "login.submit": {"zh": "登录", "en": "Sign in"},
    "login.failed": {"zh": "用户名或密码错误。", "en": "Wrong username or password."},
    "login.throttled": {"zh": "登录失败次数过多，请 {minutes} 分钟后再试。",
                        "en": "Too many failed sign-ins; try again in {minutes} minutes."},
    "login.signed_out": {"zh": "您已退出登录。", "en": "You have signed out."},
    "login.required": {"zh": "请先登录。", "en": "Please sign in first."},
    "forbidden.title": {"zh": "无权访问", "en": "Not allowed"},
    "forbidden.text": {"zh": "您的角色不能打开此页面。", "en": "Your role cannot open this page."},
    "role.liaison": {"zh": "应急联络员", "en": "Liaison"},
    "role.dispatcher": {"zh": "受理派遣员", "en": "Dispatcher"},
    "role.handler": {"zh": "处置部门", "en": "Handler"},
    "role.duty_lead": {"zh": "值班长", "en": "Shift lead"},
    "role.duty_officer": {"zh": "值班员", "en": "Duty officer"},
    "role.leader": {"zh": "领导", "en": "Leader"},
    "role.admin": {"zh": "系统管理员", "en": "Administrator"},
    "page.liaison": {"zh": "应急联动指令", "en": "Emergency instructions"},
    "page.dispatch": {"zh": "受理派遣", "en": "Dispatch inbox"},
    "page.handler": {"zh": "本部门待办", "en": "My department's work"},
    "page.duty": {"zh": "值班值守", "en": "Duty watch"},
    "page.leader": {"zh": "领导看板", "en": "Leader dashboard"},
    "page.admin": {"zh": "系统管理", "en": "Administration"},
    "col.number": {"zh": "编号", "en": "Number"},
    "col.title": {"zh": "标题", "en": "Title"},
    "col.state": {"zh": "状态", "en": "State"},
    "col.tier": {"zh": "分级", "en": "Tier"},
    "col.category": {"zh": "类别", "en": "Category"},
    "col.department": {"zh": "部门", "en": "Department"},
    "col.address": {"zh": "地址", "en": "Address"},
    "col.received_at": {"zh": "接收时间", "en": "Received"},
    "col.reported_at": {"zh": "上报时间", "en": "Reported"},
    "col.deadline": {"zh": "时限", "en": "Deadline"},
    "col.time_left": {"zh": "剩余时间", "en": "Time left"},
    "col.due_at": {"zh": "到期时间", "en": "Due"},
    "col.item": {"zh": "事项", "en": "Item"},
    "col.code": {"zh": "代码", "en": "Code"},
    "col.name": {"zh": "名称", "en": "Name"},
    "col.kind": {"zh": "类型", "en": "Kind"},
    "col.head": {"zh": "负责人", "en": "Head"},
    "col.group_leader": {"zh": "应急行动组组长", "en": "Action group leader"},
    "col.username": {"zh": "用户名", "en": "Username"},
    "col.full_name": {"zh": "姓名", "en": "Name"},
    "col.roles": {"zh": "角色", "en": "Roles"},
    "col.in_scope": {"zh": "受理范围内", "en": "In scope"},
    "col.default_tier": {"zh": "默认分级", "en": "Default tier"},
    "col.field": {"zh": "领域", "en": "Field"},
    "col.area": {"zh": "区域", "en": "Area"},
    "col.grid_leader": {"zh": "网格长", "en": "Grid leader"},
    "col.count": {"zh": "数量", "en": "Count"},
    "col.workflow": {"zh": "流程", "en": "Workflow"},
    "col.version": {"zh": "版本", "en": "Version"},
    "col.diagram": {"zh": "流程图", "en": "Diagram"},
    "col.lead": {"zh": "值班长", "en": "Shift lead"},
    "col.starts_at": {"zh": "开始", "en": "Starts"},
    "col.ends_at": {"zh": "结束", "en": "Ends"},
    "yes": {"zh": "是", "en": "yes"},
    "no": {"zh": "否", "en": "no"},
    "none": {"zh": "暂无", "en": "none"},
    "overdue_by": {"zh": "已超时 {duration}", "en": "overdue by {duration}"},
    "liaison.open": {"zh": "未办结指令", "en": "Instructions not closed"},
    "dispatch.review": {"zh": "待审核与待核查案件", "en": "Cases to review or check"},
    "handler.cases": {"zh": "本部门案件", "en": "My department's cases"},
    "handler.instructions": {"zh": "本部门指令", "en": "My department's instructions"},
    "handler.no_department": {"zh": "您未归属任何部门。", "en": "You belong to no department."},
    "duty.current": {"zh": "当前班次", "en": "Current shift"},
    "duty.none": {"zh": "当前没有进行中的班次。", "en": "No shift is on duty now."},
    "leader.open": {"zh": "未办结事项", "en": "Open items"},
    "leader.overdue": {"zh": "超时事项", "en": "Overdue deadlines"},
    "leader.overdue_total": {"zh": "超时合计", "en": "Overdue in total"},
    "item.case": {"zh": "案件", "en": "Cases"},
    "item.instruction": {"zh": "指令", "en": "Instructions"},
    "item.return_request": {"zh": "退单申请", "en": "Return requests"},
    "item.duty_shift": {"zh": "班次", "en": "Shifts"},
    "item.handover": {"zh": "交接班", "en": "Handovers"},
    "admin.departments": {"zh": "部门与单位", "en": "Departments and units"},
    "admin.people": {"zh": "人员", "en": "People"},
    "admin.categories": {"zh": "事项类别", "en": "Categories"},
    "admin.grids": {"zh": "网格", "en": "Grids"},
    "admin.workflows": {"zh": "流程定义", "en": "Workflow definitions"},
    "tier.simple": {"zh": "简单", "en": "simple"},
    "tier.general": {"zh": "一般", "en": "general"},
    "tier.complex": {"zh": "复杂", "en": "complex"},
    "tier.difficult": {"zh": "疑难", "en": "difficult"},
    "kind.department": {"zh": "部门", "en": "department"},
    "kind.unit": {"zh": "单位", "en": "unit"},
    "index.intro": {"zh": "应急联动指令、城运案件、值班值守。",
                    "en": "Emergency-linkage instructions, urban-operations cases and the duty watch."},
    "unit.min": {"zh": "分", "en": "min"},
    "unit.h": {"zh": "小时", "en": "h"},
    "unit.d": {"zh": "天", "en": "d"},
}


def current_language() -> str:
    """The session's language, else the configured default (zh)."""
    if has_request_context():
        lang = session.get("lang")
        if lang in LANGUAGES:
            return str(lang)
    default = current_app.config.get("LANGUAGE", "zh")
    return default if default in LANGUAGES else "zh"


def remember_language() -> None:
    """``?lang=zh|en`` on any page stores the choice in the session (a before_request hook)."""
    lang = request.args.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang


def t(key: str, **kwargs: object) -> str:
    """The UI string ``key`` in the current language; the key itself when it is missing."""
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    text = entry.get(current_language()) or entry.get("zh") or key
    return text.format(**kwargs) if kwargs else text


def format_duration(seconds: float) -> str:
    """``1 小时 5 分`` / ``1 h 5 min`` for a duration (absolute value)."""
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} {t('unit.d')}")
    if hours:
        parts.append(f"{hours} {t('unit.h')}")
    if mins or not parts:
        parts.append(f"{mins} {t('unit.min')}")
    return " ".join(parts)
