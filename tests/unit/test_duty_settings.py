"""The duty-watch settings: one default each, the same in ``caseflow/config.py``, in the duty
services (used without an app) and in the README's settings table."""
from __future__ import annotations

from caseflow.config import DefaultConfig
from caseflow.services.duty.settings import DEFAULTS
from tests.unit.test_readme_settings import readme_settings


def test_duty_defaults_match_config_and_readme() -> None:
    duty = {k: v for k, v in DEFAULTS.items() if k != "TIMEZONE"}
    assert {"DUTY_MIN_STAFF_HOLIDAY", "DUTY_MIN_STAFF_SPECIAL", "DUTY_HOLIDAY_LEADER", "DUTY_SPECIAL_LEADER"} <= set(duty)
    assert {k: getattr(DefaultConfig, k, "<missing>") for k in duty} == duty
    assert set(duty) <= set(readme_settings()), "document every duty setting in the README's settings table"
