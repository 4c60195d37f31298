#!/usr/bin/env bash
# Set up everything HarmMap needs on this machine, then (without --system) the demo database.
#
#   scripts/bootstrap.sh            packages, .venv, PostgreSQL server, `harmmap db init`, `harmmap geo load`,
#                                   the real MPS drug offence files and the synthetic demo set
#   scripts/bootstrap.sh --system   packages, .venv, PostgreSQL server only (what `make test` needs:
#                                   the test fixtures create and drop their own databases)
#
# Idempotent and quiet when everything is already in place; prints "harmmap setup: ..." lines when it
# changes something. Exits 1 with one line saying what to do when it cannot finish by itself.
#
# Environment:
#   HARMMAP_DATABASE_URL     the database to use (default postgresql://postgres@127.0.0.1:5432/harmmap)
#   BOOTSTRAP_APT_PACKAGES   space-separated Debian packages to ensure, instead of the default list
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PG_MAJOR=15
DEFAULT_APT_PACKAGES="postgresql-${PG_MAJOR} postgresql-${PG_MAJOR}-postgis-3 chromium poppler-utils gdal-bin fonts-dejavu-core wrk"
DEFAULT_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/harmmap"
DATABASE_URL="${HARMMAP_DATABASE_URL:-$DEFAULT_DATABASE_URL}"
VENV=.venv
STAMP="$VENV/.installed"
# The "# added by HarmMap" line marks a cluster whose pg_hba.conf this script has already edited.
HBA_MARK="# added by HarmMap make demo: local trust for the demo"

say() { printf 'harmmap setup: %s\n' "$*"; }
die() { printf 'harmmap setup: %s\n' "$*" >&2; exit 1; }

system_only=0
for arg in "$@"; do
  case "$arg" in
    --system) system_only=1 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$arg' (use --system or nothing)" ;;
  esac
done

is_root=0
[[ $(id -u) -eq 0 ]] && is_root=1

apt_updated=0
apt_install() {
  if [[ $apt_updated -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# --- 1. Debian packages ----------------------------------------------------------------------------
clusters_before=""
if command -v pg_lsclusters >/dev/null 2>&1; then clusters_before=$(pg_lsclusters -h 2>/dev/null | awk '{ print $1 "/" $2 }'); fi
installed_postgres_now=0
if command -v dpkg-query >/dev/null 2>&1; then
  read -r -a wanted <<<"${BOOTSTRAP_APT_PACKAGES:-$DEFAULT_APT_PACKAGES}"
  missing=()
  for pkg in "${wanted[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $is_root -eq 0 ]]; then
      die "missing Debian packages; install them, then run this again: sudo apt-get install ${missing[*]}"
    fi
    say "installing Debian packages: ${missing[*]}"
    for pkg in "${missing[@]}"; do
      [[ $pkg == "postgresql-${PG_MAJOR}" ]] && installed_postgres_now=1
    done
    apt_install "${missing[@]}"
  fi
else
  say "no dpkg here (not Debian): install PostgreSQL ${PG_MAJOR} with PostGIS 3, Chromium, poppler and GDAL yourself"
fi

# --- 2. Python virtual environment -------------------------------------------------------------------
python_ok() {  # python_ok CMD: CMD runs and is Python 3.11 or 3.12
  "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] in ((3, 11), (3, 12)) else 1)' >/dev/null 2>&1
}

if [[ -e $VENV ]] && ! { python_ok "$VENV/bin/python" && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; }; then
  say "$VENV is broken or has the wrong Python; making it again"
  rm -rf "$VENV"
fi

if [[ ! -e $VENV ]]; then
  python=""
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
      python=$candidate
      break
    fi
  done
  [[ -n $python ]] || die "need Python 3.11 (or 3.12) as python3.11 or python3; found none (on Debian: apt-get install python3 python3-venv)"
  say "creating $VENV with $("$python" -c 'import sys; print("Python %d.%d.%d" % sys.version_info[:3])')"
  if ! "$python" -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    if [[ $is_root -eq 1 ]] && command -v dpkg-query >/dev/null 2>&1; then
      say "installing python3-venv"
      apt_install python3-venv
      "$python" -m venv "$VENV" || { rm -rf "$VENV"; die "could not create $VENV with $python"; }
    else
      die "could not create $VENV with $python; on Debian: sudo apt-get install python3-venv"
    fi
  fi
  rm -f "$STAMP"
fi

if [[ ! -e $STAMP || pyproject.toml -nt $STAMP ]]; then
  say "installing HarmMap and its test tools into $VENV (pip install -e '.[test]')"
  # The playwright package only drives the system Chromium; it never downloads a browser here.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$VENV/bin/python" -m pip install --quiet -e '.[test]'
  touch "$STAMP"
fi

# --- 3. PostgreSQL server ---------------------------------------------------------------------------
# Host, port and user from the URL, as libpq would read them (a ?host=/socket/dir query wins).
read -r db_host db_port db_user < <("$VENV/bin/python" - "$DATABASE_URL" <<'PY'
import sys
from urllib.parse import urlsplit, parse_qs, unquote
u = urlsplit(sys.argv[1])
q = parse_qs(u.query)
host = q.get("host", [None])[0] or (unquote(u.hostname) if u.hostname else "") or "127.0.0.1"
port = q.get("port", [None])[0] or u.port or 5432
user = q.get("user", [None])[0] or (unquote(u.username) if u.username else "") or "postgres"
print(host, port, user)
PY
)

# The same URL but for the always-present "postgres" database, to check that we can log in.
maintenance_url=$("$VENV/bin/python" - "$DATABASE_URL" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
u = urlsplit(sys.argv[1])
print(urlunsplit(u._replace(path="/postgres")))
PY
)

case "$db_host" in
  127.0.0.1|localhost|::1|/*) db_is_local=1 ;;
  *) db_is_local=0 ;;
esac

pg_ready() { pg_isready -q -t 2 -h "$db_host" -p "$db_port" >/dev/null 2>&1; }

owned_cluster=""      # "VER NAME" of a cluster this run installed or created: we may configure it
if [[ $installed_postgres_now -eq 1 ]]; then
  owned_cluster="just-installed"   # resolved to the cluster on $db_port below
fi

cluster_on_port() {  # prints "VER NAME STATUS" of the cluster on $db_port, if any
  pg_lsclusters -h 2>/dev/null | awk -v port="$db_port" '$3 == port { print $1, $2, $4; exit }'
}

if ! command -v pg_isready >/dev/null 2>&1; then
  say "pg_isready not found; assuming a PostgreSQL server is at $db_host:$db_port"
elif ! pg_ready; then
  if [[ $db_is_local -eq 0 ]]; then
    die "PostgreSQL at $db_host:$db_port does not answer; start it or point HARMMAP_DATABASE_URL at a running server"
  fi
  if ! command -v pg_lsclusters >/dev/null 2>&1; then
    die "PostgreSQL at $db_host:$db_port does not answer and there is no pg_lsclusters to start one; start your server"
  fi
  read -r c_ver c_name c_status <<<"$(cluster_on_port)"
  if [[ -n ${c_ver:-} ]]; then
    if [[ $c_status != online* ]]; then
      [[ $is_root -eq 1 ]] || die "PostgreSQL cluster $c_ver/$c_name (port $db_port) is down: sudo pg_ctlcluster $c_ver $c_name start"
      say "starting PostgreSQL cluster $c_ver/$c_name on port $db_port"
      pg_ctlcluster --skip-systemctl-redirect "$c_ver" "$c_name" start \
        || die "could not start PostgreSQL cluster $c_ver/$c_name; see /var/log/postgresql/postgresql-$c_ver-$c_name.log"
    fi
  elif [[ -z "$(pg_lsclusters -h 2>/dev/null)" ]]; then
    [[ $is_root -eq 1 ]] || die "no PostgreSQL cluster exists: sudo pg_createcluster $PG_MAJOR main --port $db_port --start"
    c_ver=$PG_MAJOR
    c_name=main
    [[ -e /etc/postgresql/$c_ver/$c_name ]] && c_name=harmmap
    say "creating PostgreSQL cluster $c_ver/$c_name on port $db_port"
    pg_createcluster "$c_ver" "$c_name" --port "$db_port" --start >/dev/null \
      || die "could not create PostgreSQL cluster $c_ver/$c_name"
    owned_cluster="$c_ver $c_name"
  else
    die "no PostgreSQL cluster listens on port $db_port (pg_lsclusters shows others); start one there or set HARMMAP_DATABASE_URL to the right port"
  fi
  for _ in $(seq 1 20); do
    pg_ready && break
    sleep 1
  done
  pg_ready || die "PostgreSQL at $db_host:$db_port is still not ready after 20 s; see /var/log/postgresql/"
fi

# --- 4. Authentication --------------------------------------------------------------------------------
# A fresh Debian cluster asks for a password over TCP (scram-sha-256). Only on a cluster that this run
# installed or created do we add trust for the postgres role from localhost; never on anyone else's.
if [[ $owned_cluster == "just-installed" ]]; then
  owned_cluster=""
  if [[ $db_is_local -eq 1 ]] && command -v pg_lsclusters >/dev/null 2>&1; then
    read -r c_ver c_name _ <<<"$(cluster_on_port)"
    # only a cluster that the package install itself created, not one that was there before
    if [[ -n ${c_ver:-} ]] && ! grep -qxF "$c_ver/$c_name" <<<"$clusters_before"; then
      owned_cluster="$c_ver $c_name"
    fi
  fi
fi

if [[ -n $owned_cluster ]]; then
  read -r c_ver c_name <<<"$owned_cluster"
  hba="/etc/postgresql/$c_ver/$c_name/pg_hba.conf"
  if [[ -f $hba ]] && ! grep -qF "$HBA_MARK" "$hba"; then
    say "letting postgres log in from localhost without a password on the new cluster $c_ver/$c_name ($hba)"
    tmp=$(mktemp)
    {
      echo "$HBA_MARK"
      echo "host    all    postgres    127.0.0.1/32    trust"
      echo "host    all    postgres    ::1/128         trust"
      echo
      cat "$hba"
    } >"$tmp"
    cat "$tmp" >"$hba"   # rewrite in place: keeps the file's owner and mode
    rm -f "$tmp"
    pg_ctlcluster --skip-systemctl-redirect "$c_ver" "$c_name" reload
  fi
fi

if command -v psql >/dev/null 2>&1; then
  if ! login_error=$(PGCONNECT_TIMEOUT=5 psql -w -X -q "$maintenance_url" -tAc 'select 1' 2>&1 >/dev/null); then
    if grep -qiE 'password|authentication|pg_hba|role .* does not exist' <<<"$login_error"; then
      die "cannot log in to PostgreSQL at $db_host:$db_port as $db_user ($(head -n1 <<<"$login_error" | sed 's/^psql: \(error: \)\{0,1\}//')); set HARMMAP_DATABASE_URL with a user and password that can, e.g. postgresql://postgres:PASSWORD@$db_host:$db_port/harmmap"
    fi
    die "cannot connect to PostgreSQL at $db_host:$db_port: $(head -n1 <<<"$login_error" | sed 's/^psql: \(error: \)\{0,1\}//')"
  fi
fi

[[ $system_only -eq 1 ]] && exit 0

# --- 5. The demo database -------------------------------------------------------------------------------
"$VENV/bin/harmmap" db init
"$VENV/bin/harmmap" geo load
# Real MPS drug offences (ward x month, 2024-26; LSOA x year, 2011-21), then the SYNTHETIC demo set
# (closures, disruptions, PAS, seizures), labelled synthetic wherever it shows. Re-runs are no-ops:
# the same files are recognised by their SHA-256, and synth writes the same bytes for a seed.
"$VENV/bin/harmmap" etl run mps_ward_crime geodata/crime/mps_ward_level_crime_2024-03_to_2026-03.csv
"$VENV/bin/harmmap" etl run mps_lsoa_drug_annual geodata/crime/mps_lsoa_drug_offences_annual_2011_2021.csv
demo_dir=.demo-data/synthetic-seed1
# (written again when a file a newer generator adds is missing, e.g. the stop-and-search month)
[[ -f $demo_dir/closures.csv && -f $demo_dir/stop_search_synthetic.csv ]] || "$VENV/bin/harmmap" synth --seed 1 --out "$demo_dir"
"$VENV/bin/harmmap" etl run-all "$demo_dir"
# One account per role (viewer, sergeant, analyst, admin) and an analyst API key: the password is
# HARMMAP_DEMO_PASSWORD, the key HARMMAP_DEMO_API_KEY, or each is generated and printed once.
"$VENV/bin/harmmap" demo-accounts
