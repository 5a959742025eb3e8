"""Citizens' mobile web pages (H5), static files talking only to the public API under /api/v1."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, send_from_directory

STATIC = Path(__file__).parent / "static"
PAGES = {"real-name": "real-name.html"}


def init_h5(app: Flask) -> None:
    @app.route("/h5/<string:page>", endpoint="h5_page")
    def _page(page: str):
        if page not in PAGES:
            return send_from_directory(STATIC, page, max_age=3600)  # 404 for anything not shipped
        return send_from_directory(STATIC, PAGES[page], max_age=0)
