"""The README's settings table and ``caseflow/config.py`` stay in step."""
from __future__ import annotations

import re
from pathlib import Path

from caseflow.config import DefaultConfig

README = Path(__file__).resolve().parents[2] / "README.md"
# Read from the environment before any app exists, not Flask configuration.
NOT_CONFIG = {"INSTANCE_PATH"}


def readme_settings() -> list[str]:
    """Every ``CASEFLOW_<KEY>`` named in the first column of a README table row."""
    keys: list[str] = []
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `CASEFLOW_"):
            first = line.split("|")[1]
            keys += re.findall(r"`CASEFLOW_([A-Z0-9_]+)`", first)
    return keys


def test_every_setting_in_the_readme_has_a_default() -> None:
    keys = readme_settings()
    assert {"WORKER_TTL_S", "SWEEP_GRACE_S", "NOTIFY_SMTP_HOST", "NOTIFY_LINKAGE110_TOKEN"} <= set(keys)
    missing = [k for k in keys if k not in NOT_CONFIG and not hasattr(DefaultConfig, k)]
    assert not missing, f"README lists settings without a default in caseflow/config.py: {missing}"


def test_worker_and_notification_defaults_match_the_code() -> None:
    # The code reads these with .get(name, default): the documented defaults must be the same.
    assert (DefaultConfig.WORKER_TTL_S, DefaultConfig.WORKER_MAINTENANCE_S, DefaultConfig.SCHEDULER_LOCK_TTL_S,
            DefaultConfig.SCHEDULER_POLL_S, DefaultConfig.SWEEP_GRACE_S) == (20, 5, 10, 0.2, 3)
    from caseflow.notify.registry import DEFAULT_SMTP_TIMEOUT_S
    from caseflow.notify.webhook import DEFAULT_TIMEOUT_S

    assert DefaultConfig.NOTIFY_HTTP_TIMEOUT_S == DEFAULT_TIMEOUT_S
    assert DefaultConfig.NOTIFY_SMTP_TIMEOUT_S == DEFAULT_SMTP_TIMEOUT_S
