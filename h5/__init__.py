"""Citizens' mobile web pages (H5): one Vue 3 + Vant 4 single-page app under /h5/, talking only to the
public API under /api/v1. Vendored libraries live in static/vendor/ (see VENDORED.md); no build step."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, send_from_directory

STATIC = Path(__file__).parent / "static"
# paths that open the app shell; the app picks its screen from the path and the #/route
SHELL_PATHS = ("real-name", "authorize")

# scripts and styles only from our own files (Vue runs without its template compiler: no eval);
# blob:/data: for the camera frames and signature previews; camera via getUserMedia needs no source
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def _secure(response: Response, *, cache: bool) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = "camera=(self), geolocation=(self), microphone=()"
    if not cache:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_h5(app: Flask) -> None:
    @app.route("/h5/", endpoint="h5_shell")
    def _shell():
        return _secure(send_from_directory(STATIC, "index.html", max_age=0), cache=False)

    @app.route("/h5/<path:filename>", endpoint="h5_file")
    def _file(filename: str):
        if filename in SHELL_PATHS:
            return _shell()
        # send_from_directory refuses paths outside STATIC; anything not shipped is a 404
        return _secure(send_from_directory(STATIC, filename, max_age=300), cache=True)
