#!/usr/bin/env bash
# Installs the system packages the tests need (Debian), once. Safe to re-run.
#   chromium: the real browser for portal tests (driven by Playwright via executable_path)
#   fonts-noto-cjk: Chinese text in screenshots and the PDF authorization letter
#   poppler-utils: pdftotext, to check the generated PDFs in tests
#   nodejs, npm: the generated TypeScript client of the OpenAPI contract is compiled (contract/, openapi-typescript)
#   ffmpeg: makes the Y4M clip Chromium's fake camera plays in the H5 face tests (tests/browser/test_h5.py)
#   openjdk-17-jre-headless: Java for the local Apache Spark of the bulk engine's test (tests/checks, marker spark)
#   nginx-light, redis-server: the production topology of the fault suite (tests/faults: nginx in front of
#     gunicorn, a private Redis the tests stop and start)
#   wrk, hey: HTTP load generators of bench/api_load.py (closed loop; open loop at a fixed rate with hey -q)
set -euo pipefail
need=()
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v pdftotext >/dev/null || need+=(poppler-utils)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
{ command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } || need+=(nginx-light)
command -v redis-server >/dev/null || need+=(redis-server)
command -v wrk >/dev/null || need+=(wrk)
command -v hey >/dev/null || need+=(hey)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "ensure-system: missing ${need[*]}; run as root: apt-get install -y ${need[*]}" >&2
  exit 0  # the tests that need them say so (and fail in CI)
fi
echo "ensure-system: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
# the Debian package starts a system nginx on port 80; the fault suite runs its own on a free port
if printf '%s\n' "${need[@]}" | grep -q '^nginx'; then
  (service nginx stop || true) >/dev/null 2>&1
fi
