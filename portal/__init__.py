"""The officers' web portal (server-rendered HTML), mounted at /portal."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import Flask, redirect, send_from_directory, url_for
from flask_wtf.csrf import CSRFProtect

from core.clock import local_today, to_local
from core.desk import due

csrf = CSRFProtect()


def init_portal(app: Flask) -> None:
    from portal.applications.views import bp as applications_bp
    from portal.auth.views import bp as auth_bp
    from portal.auth.views import install_portal_guard
    from portal.catalogue.views import bp as catalogue_bp
    from portal.catalogue.views import install_upload_limit
    from portal.checks.views import bp as checks_bp
    from portal.dashboard.views import bp as dashboard_bp
    from portal.departments.views import bp as departments_bp  # exchange: departments, API clients
    from portal.identity.views import bp as identity_bp
    from portal.monitoring.views import bp as monitoring_bp  # monitoring (动态监测)
    from portal.notifications.views import bp as notifications_bp
    from portal.operations.views import bp as operations_bp
    from portal.queue.views import bp as queue_bp
    from portal.registry.views import bp as registry_bp
    from portal.reports.views import bp as reports_bp
    from portal.reviews.views import bp as reviews_bp
    from portal.rolls.views import bp as rolls_bp  # registry: rolls
    from portal.sessions import install as install_sessions
    from portal.transfers.views import bp as transfers_bp
    from portal.warnings.views import bp as warnings_bp  # warnings (预警)

    install_sessions(app)  # server-side sessions (core.accounts.portal_sessions)
    install_upload_limit(app)  # before CSRF, which reads the form: department files may exceed MAX_CONTENT_LENGTH
    csrf.init_app(app)
    app.register_blueprint(auth_bp)
    app.register_blueprint(queue_bp)
    app.register_blueprint(applications_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(identity_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(registry_bp)
    app.register_blueprint(operations_bp)
    app.register_blueprint(transfers_bp)
    app.register_blueprint(reviews_bp)
    app.register_blueprint(rolls_bp)  # registry: rolls
    app.register_blueprint(warnings_bp)  # warnings (预警)
    app.register_blueprint(catalogue_bp)  # exchange: department data
    app.register_blueprint(checks_bp)  # checks: 核对报告, anti-fraud dashboard
    app.register_blueprint(monitoring_bp)  # monitoring (动态监测)
    app.register_blueprint(departments_bp)  # exchange: departments and their API clients
    install_portal_guard(app)

    static_dir = Path(__file__).parent / "static"

    @app.route("/portal/static/<path:filename>", endpoint="portal_static")
    def _static(filename: str):
        return send_from_directory(static_dir, filename, max_age=3600)

    @app.route("/")
    def _root():
        return redirect(url_for("portal_queue.index"))

    @app.template_global("due_cue")
    def _due_cue(value):  # noqa: ANN001 - a date or None
        return due.cue(value, local_today())

    @app.template_filter("localtime")
    def _localtime(value: datetime | None) -> str:
        return to_local(value).strftime("%Y-%m-%d %H:%M") if value else ""
