#!/usr/bin/env bash
# Idempotent set-up shared by the README's two commands and CI: Debian packages when missing,
# the PostgreSQL cluster running with PostGIS, gilmok's role and database, and the virtual
# environment with gilmok installed. A second run changes nothing and takes seconds.
#
# Usage: scripts/setup.sh [--with-relay]      (environment: GILMOK_VENV, default .venv)
# The web console's bundle is built (scripts/build-console) on every run that finds it stale.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${GILMOK_VENV:-$root/.venv}
say() { printf '[setup] %s\n' "$*" >&2; }

# fonts-nanum: Hangul in the notebooks' figures (matplotlib finds it among the system fonts)
want_packages=(postgresql-15 postgresql-15-postgis-3 postgresql-15-pgrouting fonts-nanum)
for arg in "$@"; do
  case "$arg" in
    --with-relay) want_packages+=(janus gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp
                    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly
                    gstreamer1.0-tools python3-gi
                    iproute2) ;;  # iproute2: the browser tests' network namespace (tests/netns.py)
    *) say "unknown option $arg"; exit 2 ;;
  esac
done

# The console's browser tests: Debian's Chromium (never a downloaded browser) and a Hangul font.
want_packages+=(chromium chromium-driver fonts-nanum)
missing=()
for pkg in "${want_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); else sudo_cmd=(); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# PostgreSQL 15 cluster "main", started when down.
if ! pg_lsclusters -h 2>/dev/null | awk '$1=="15" && $2=="main"' | grep -q online; then
  say "starting PostgreSQL 15 cluster main"
  pg_ctlcluster 15 main start
fi
for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.1; done

psql_admin() { runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qAtX "$@"; }
# The gilmok role owns the database and the schema and runs the migrations and imports
# (GILMOK_OWNER_DATABASE_URL); tests create and drop their own databases, so it may CREATEDB.
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='gilmok'")" != "1" ]; then
  say "creating role gilmok"
  psql_admin -c "CREATE ROLE gilmok LOGIN PASSWORD 'gilmok' CREATEDB"
fi
# The web app works as gilmok_app, a NOLOGIN role the migrations grant no UPDATE/DELETE on the
# audit trail (migrations/versions/0002); gilmok may switch to it (SET ROLE) too.
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='gilmok_app'")" != "1" ]; then
  say "creating role gilmok_app"
  psql_admin -c "CREATE ROLE gilmok_app NOLOGIN"
fi
if [ "$(psql_admin -c "SELECT pg_has_role('gilmok', 'gilmok_app', 'MEMBER')")" != "t" ]; then
  psql_admin -c "GRANT gilmok_app TO gilmok"
fi
# The service (`gilmok serve`, `gilmok worker`) logs in as gilmok_service: not the owner, not a
# member of it, holding only gilmok_app's privileges, so it cannot alter a table, disable the
# audit trigger, truncate or rewrite the audit trail. Its password is for loopback development.
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='gilmok_service'")" != "1" ]; then
  say "creating role gilmok_service"
  psql_admin -c "CREATE ROLE gilmok_service LOGIN PASSWORD 'gilmok_service'"
fi
if [ "$(psql_admin -c "SELECT pg_has_role('gilmok_service', 'gilmok_app', 'MEMBER')")" != "t" ]; then
  psql_admin -c "GRANT gilmok_app TO gilmok_service"
fi
# The other way round is harmless and lets the owner end the service's sessions (pg_terminate_backend:
# before dropping a test database, or to take a migration's locks).
if [ "$(psql_admin -c "SELECT pg_has_role('gilmok', 'gilmok_service', 'MEMBER')")" != "t" ]; then
  psql_admin -c "GRANT gilmok_service TO gilmok"
fi
if [ "$(psql_admin -c "SELECT pg_has_role('gilmok_service', 'gilmok', 'MEMBER')")" = "t" ]; then
  say "gilmok_service is a member of the owner gilmok: revoke that (REVOKE gilmok FROM gilmok_service)"
  exit 1
fi
# The browser tests run `gilmok serve` inside a network namespace of their own (tests/netns.py),
# where 127.0.0.1:5432 is not this server: they reach PostgreSQL through its unix socket, with the
# same passwords as over TCP (Debian's default for the socket is peer authentication).
hba=$(psql_admin -c "SHOW hba_file")
if ! grep -qE '^local[[:space:]]+all[[:space:]]+gilmok,gilmok_service[[:space:]]+scram-sha-256' "$hba"; then
  say "PostgreSQL: gilmok and gilmok_service may log in with their passwords on the unix socket"
  awk '!done && /^local[[:space:]]+all[[:space:]]+all[[:space:]]/ {
         print "local   all             gilmok,gilmok_service                   scram-sha-256"; done=1 }
       { print }' "$hba" >"$hba.gilmok" && cat "$hba.gilmok" >"$hba" && rm -f "$hba.gilmok"
  psql_admin -c "SELECT pg_reload_conf()" >/dev/null
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='gilmok'")" != "1" ]; then
  say "creating database gilmok"
  psql_admin -c "CREATE DATABASE gilmok OWNER gilmok"
fi
# PostGIS and pgRouting are created by a superuser in template1 so that every database the tests
# create has them; the app role cannot create extensions itself.
for db in template1 gilmok; do
  psql_admin -d "$db" -c "CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS pgrouting" 2>/dev/null \
    || psql_admin -d "$db" -c "CREATE EXTENSION IF NOT EXISTS postgis"
done

# Virtual environment, reinstalled only when pyproject.toml changed.
stamp="$venv/.gilmok-installed"
want=$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ]; then
  say "creating virtual environment $venv"
  python3 -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing gilmok and its dependencies into $venv"
  # pip warns about every missing local index folder on this machine's configuration: noise.
  "$venv/bin/pip" install -q -e "$root[dev]" 2>&1 | { grep -v "is neither a file nor a directory" || true; } >&2
  echo "$want" >"$stamp"
fi
# The console's bundle (MapLibre, the Janus client, the pages), from the committed npm lockfile.
"$root/scripts/build-console"
say "ready ($(pg_lsclusters -h | awk '$1=="15" && $2=="main" {print "PostgreSQL 15 " $4}'), venv $venv)"
