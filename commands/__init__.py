"""Flask CLI commands (``flask --app wsgi …``). Thin: parse, call a core service, commit, print."""

from __future__ import annotations

from flask import Flask


def register_commands(app: Flask) -> None:
    import commands.database  # noqa: F401  (adds `grant-app-role` to Flask-Migrate's `db` group)
    from commands.backup import backup_cli
    from commands.checks import checks_cli
    from commands.demo import demo_cli
    from commands.exchange import exchange_cli
    from commands.files import files_cli
    from commands.identity import authorizations_cli, identity_cli
    from commands.monitoring import monitoring_cli
    from commands.programs import programs_cli
    from commands.regions import regions_cli
    from commands.registry import registry_cli
    from commands.reports import reports_cli
    from commands.users import users_cli

    for group in (regions_cli, users_cli, demo_cli, programs_cli, reports_cli, identity_cli, authorizations_cli):
        app.cli.add_command(group)
    app.cli.add_command(registry_cli)
    app.cli.add_command(exchange_cli)
    app.cli.add_command(backup_cli)
    app.cli.add_command(files_cli)
    app.cli.add_command(checks_cli)
    app.cli.add_command(monitoring_cli)
