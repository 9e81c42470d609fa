"""Upload, duplicate, callback and Open311 settings: documented in the README and the deploy
example with the defaults the code uses; the README's token command matches the CLI."""
from __future__ import annotations

import re
from pathlib import Path

from caseflow.config import DefaultConfig
from caseflow.services import open311
from caseflow.services.cases.config import DEFAULTS

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("UPLOAD_MAX_BYTES", "UPLOAD_ALLOWED_KINDS", "DUPLICATE_RADIUS_M", "DUPLICATE_WINDOW_H",
        "CALLBACK_REOPEN_DAYS", "OPEN311_JURISDICTION_ID", "OPEN311_WINDOW_DAYS", "OPEN311_MAX_REQUESTS")


def _number(value: object) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def test_readme_and_env_example_document_each_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = (ROOT / "deploy" / "caseflow.env.example").read_text(encoding="utf-8")
    for key in KEYS:
        default = _number(getattr(DefaultConfig, key))
        row = re.search(rf"^\| `CASEFLOW_{key}` \|.*\| `([^`]*)`", readme, re.M)
        assert row and row.group(1) == default, key
        assert f"#CASEFLOW_{key}={default}\n" in example, key


def test_service_defaults_are_the_configs() -> None:
    assert DEFAULTS == {k: getattr(DefaultConfig, k)
                        for k in ("DUPLICATE_RADIUS_M", "DUPLICATE_WINDOW_H", "CALLBACK_REOPEN_DAYS")}
    assert (open311.DEFAULT_JURISDICTION, open311.DEFAULT_WINDOW_DAYS, open311.DEFAULT_MAX_REQUESTS) == (
        DefaultConfig.OPEN311_JURISDICTION_ID, DefaultConfig.OPEN311_WINDOW_DAYS, DefaultConfig.OPEN311_MAX_REQUESTS)


def test_readme_token_commands_run(app, session, world) -> None:  # type: ignore[no-untyped-def]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "caseflow users token citizen-app --client app" in readme
    runner = app.test_cli_runner()
    r = runner.invoke(args=["users", "token", "citizen-app", "--client", "app"])
    assert r.exit_code == 0 and len(r.stdout.strip()) > 20, r.output
    r = runner.invoke(args=["users", "token", world.people["dispatcher"].username, "--label", "laptop"])
    assert r.exit_code == 0, r.output
