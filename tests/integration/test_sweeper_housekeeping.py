"""The sweep runs every periodic step, and one failing step does not stop the others."""
from __future__ import annotations

from caseflow.deadlines import sweeper


def test_sweep_runs_all_housekeeping_steps(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    report = sweeper.sweep_once(session, catalog)
    assert set(report.housekeeping) == {"emergency_chains", "handover_deadlines", "escalations", "notifications",
                                        "handover_reminders", "duty_gaps", "reports"}
    assert report.errors == []
    assert "rearmed=0" in str(report)


def test_a_failing_step_is_isolated(session, catalog, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def boom(s, now):  # type: ignore[no-untyped-def]
        raise RuntimeError("smtp settings missing")

    real = sweeper._housekeeping

    def with_failure(cat):  # type: ignore[no-untyped-def]
        steps = real(cat)
        return [("notifications", boom) if name == "notifications" else (name, fn) for name, fn in steps]

    monkeypatch.setattr(sweeper, "_housekeeping", with_failure)
    report = sweeper.sweep_once(session, catalog)
    assert report.errors == ["notifications: smtp settings missing"]
    assert {"escalations", "handover_reminders", "duty_gaps"} <= set(report.housekeeping)
