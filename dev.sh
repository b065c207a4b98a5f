#!/usr/bin/env bash
# UnionFlow's two entry points on a fresh Debian machine with Python 3.11:
#   ./dev.sh run    install what is missing, migrate, load demo data, serve http://127.0.0.1:5000
#   ./dev.sh test   install what is missing, then ruff, mypy and the test suite on SQLite and on PostgreSQL
# Both are idempotent: a second run only checks and skips.
set -euo pipefail
cd "$(dirname "$0")"

# WeasyPrint needs Pango; CJK fonts and HarfBuzz subsetting make Chinese PDFs render correctly and fast.
APT_PACKAGES=(fonts-noto-cjk libharfbuzz-subset0 poppler-utils libpango-1.0-0 libpangoft2-1.0-0)
# The end-to-end tests drive Debian's Chromium through Playwright (never a downloaded browser); the suite's second
# pass starts a throwaway PostgreSQL server of its own (tests/postgres_server.py).
TEST_APT_PACKAGES=(chromium postgresql)
VENV=.venv
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

ensure_apt() {
    local missing=() wanted=("${APT_PACKAGES[@]}" "$@")
    # Debian's own Python needs python3-venv before `python3 -m venv` works.
    "$PY" -c "import ensurepip" 2>/dev/null || missing+=(python3-venv)
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing Debian packages: ${missing[*]}"
    local SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
        SUDO="sudo"
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

ensure_venv() {
    [ -x "$VENV/bin/pip" ] || "$PY" -m venv "$VENV"
    # Reinstall only when the dependency declaration changed.
    local stamp="$VENV/.unionflow-installed"
    local want
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        "$VENV/bin/pip" install -q --upgrade pip
        "$VENV/bin/pip" install -q -e '.[test]'
        echo "$want" > "$stamp"
    fi
}

cmd=${1:-}
case "$cmd" in
    run)
        ensure_apt
        ensure_venv
        export UNIONFLOW_DEMO=1 FLASK_RUN_SCHEDULER=true
        export FLASK_DATABASE_URL=${FLASK_DATABASE_URL:-${DATABASE_URL:-sqlite:///$PWD/instance/unionflow.db}}
        mkdir -p instance
        "$VENV/bin/flask" --app webapp init-db
        "$VENV/bin/flask" --app webapp seed-demo
        "$VENV/bin/flask" --app webapp seed-demo-aid
        "$VENV/bin/flask" --app webapp seed-demo-studio
        "$VENV/bin/flask" --app webapp seed-demo-supervision
        exec "$VENV/bin/flask" --app webapp run --host 127.0.0.1 --port "${PORT:-5000}"
        ;;
    test)
        ensure_apt "${TEST_APT_PACKAGES[@]}"
        ensure_venv
        shift
        "$VENV/bin/ruff" check .
        "$VENV/bin/mypy"
        # The whole suite on both databases, unless UNIONFLOW_TEST_DB (sqlite|postgres) picks one.
        if [ -n "${UNIONFLOW_TEST_DB:-}" ]; then
            "$VENV/bin/pytest" "$@"
        else
            # The two passes run side by side, one per core; the SQLite pass's report follows PostgreSQL's.
            sqlite_log=$(mktemp)
            "$VENV/bin/pytest" --db=sqlite -p no:cacheprovider "$@" >"$sqlite_log" 2>&1 &
            sqlite_pid=$!
            postgres_status=0
            "$VENV/bin/pytest" --db=postgres "$@" || postgres_status=$?
            sqlite_status=0
            wait "$sqlite_pid" || sqlite_status=$?
            echo "---- SQLite pass ----"
            cat "$sqlite_log"
            rm -f "$sqlite_log"
            if [ "$postgres_status" -ne 0 ] || [ "$sqlite_status" -ne 0 ]; then
                exit 1
            fi
        fi
        ;;
    *)
        echo "usage: ./dev.sh run | ./dev.sh test [pytest args]" >&2
        exit 2
        ;;
esac
