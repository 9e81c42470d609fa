"""The web console (server-rendered pages)."""
from __future__ import annotations

from flask import Flask


def init_web(app: Flask) -> None:
    """Register the console's blueprints, CSRF protection, security headers and helpers."""
    from .auth import bp as auth_bp
    from .hooks import init_hooks
    from .pages import bp as pages_bp
    from .views import bp

    init_hooks(app)
    app.register_blueprint(bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(pages_bp)
    from .duty import bp as duty_bp

    app.register_blueprint(duty_bp)
    from .work import register_work_pages

    register_work_pages(app)
    from .reports import bp as reports_bp

    app.register_blueprint(reports_bp)
    from .returns_admin import bp as returns_admin_bp

    app.register_blueprint(returns_admin_bp)
    from .admin_import import bp as admin_import_bp

    app.register_blueprint(admin_import_bp)
    from .outbox_pages import bp as outbox_pages_bp

    app.register_blueprint(outbox_pages_bp)
    from .instruction_ledger import bp as instruction_ledger_bp

    app.register_blueprint(instruction_ledger_bp)
    from .dispatch_queues import bp as dispatch_queues_bp
    from .patrol import bp as patrol_bp

    app.register_blueprint(patrol_bp)
    app.register_blueprint(dispatch_queues_bp)
    from .admin_records import bp as admin_records_bp

    app.register_blueprint(admin_records_bp)
    from .instruction_steps import bp as instruction_steps_bp

    app.register_blueprint(instruction_steps_bp)
    from .calendar_admin import bp as calendar_admin_bp
    from .leader_items import bp as leader_items_bp

    app.register_blueprint(calendar_admin_bp)
    app.register_blueprint(leader_items_bp)
    from .time_limits_admin import bp as time_limits_admin_bp

    app.register_blueprint(time_limits_admin_bp)
