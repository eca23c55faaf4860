#!/usr/bin/env bash
# A LAVA lab of one on this machine, for `pasidbench lava submit`: Debian's
# LAVA 2023.01 server (PostgreSQL, gunicorn, the scheduler) and a worker,
# every one started by hand without systemd, listening on 127.0.0.1 only,
# and one QEMU (TCG) device per kernel manifest.
#
#   scripts/lava-lab.sh up [kernels/*.toml ...]   install what is missing, start, add devices
#   scripts/lava-lab.sh status                    what runs, what the server says
#   scripts/lava-lab.sh down                      stop everything `up` started, by PID
#
# Needs root (packages, PostgreSQL, /etc/lava-server). State, logs and PIDs
# live in $PASIDBENCH_LAVA_LAB (default /var/tmp/pasidbench-lava-lab); the
# lavacli identity is `pasidbench-lab`. `down` leaves the packages, the
# database and /etc/lava-server in place, so the next `up` takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STATE=${PASIDBENCH_LAVA_LAB:-/var/tmp/pasidbench-lava-lab}
PORT=${PASIDBENCH_LAVA_PORT:-8000}
URL="http://127.0.0.1:$PORT"
IDENTITY=pasidbench-lab
WORKER=pasidbench-worker0
PACKAGES=(lava-server lava-dispatcher lavacli postgresql curl)
PG_VERSION=15
DEVICES_DIR=/etc/lava-server/dispatcher-config/devices

say() { echo "lava-lab: $*" >&2; }
die() { say "$*"; exit 1; }
need_root() { [[ $(id -u) -eq 0 ]] || die "run as root (packages, PostgreSQL, /etc/lava-server)"; }
alive() { [[ -s $STATE/$1.pid ]] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }
manage() { lava-server manage "$@"; }
# Whether `lava-server manage WHAT list` names $2 (read whole: grep -q would
# end the pipe early, and pipefail would call that a failure).
listed() { local out; out=$(manage "$1" list 2>/dev/null) || true; grep -qw -- "$2" <<<"$out"; }

start_daemon() {  # name, command...: detached, its PID in $STATE/name.pid
  local name=$1; shift
  if alive "$name"; then say "$name already running (PID $(cat "$STATE/$name.pid"))"; return; fi
  setsid "$@" >"$STATE/$name.log" 2>&1 < /dev/null &
  echo $! >"$STATE/$name.pid"
  say "$name started (PID $!, log $STATE/$name.log)"
}

stop_daemon() {
  local name=$1 pid
  [[ -s $STATE/$name.pid ]] || return 0
  pid=$(cat "$STATE/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    # setsid made it a process group leader: its children (gunicorn's
    # workers, the worker's lava-run) go with it.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && { kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"; }
    say "$name stopped (PID $pid)"
  fi
  rm -f "$STATE/$name.pid"
}

install_packages() {
  local missing=() pkg
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  say "installing ${missing[*]} (a few minutes the first time)"
  # lava-server's postinst creates its database: PostgreSQL must run first.
  if [[ " ${missing[*]} " == *" lava-server "* ]] && dpkg-query -W postgresql-$PG_VERSION >/dev/null 2>&1; then
    start_postgres
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    >"$STATE/apt.log" 2>&1 || die "apt-get install failed: $(tail -1 "$STATE/apt.log")"
}

start_postgres() {
  local clusters
  clusters=$(pg_lsclusters -h 2>/dev/null) || true
  if awk -v v=$PG_VERSION '$1 == v && $2 == "main" && $4 == "online"' <<<"$clusters" | grep -q .; then
    return 0
  fi
  # Loopback only; started by us, so `down` stops it again.
  pg_ctlcluster $PG_VERSION main start -o "-c listen_addresses=127.0.0.1" \
    || die "PostgreSQL $PG_VERSION/main does not start"
  touch "$STATE/postgres.started-by-us"
  say "PostgreSQL $PG_VERSION/main started (127.0.0.1:5432)"
}

wait_http() {
  for _ in $(seq 120); do
    curl -fsS -o /dev/null "$URL/api/v0.2/" 2>/dev/null && return 0
    sleep 1
  done
  die "the server does not answer at $URL (see $STATE/gunicorn.log)"
}

device_name() { echo "qemu-$1" | tr -c 'A-Za-z0-9_.\n-' '-'; }

add_device() {  # kernel manifest
  local name kname
  kname=$(sed -n 's/^name *= *"\(.*\)".*/\1/p' "$1" | head -1)
  [[ -n $kname ]] || die "$1: no [kernel] name"
  name=$(device_name "$kname")
  # lava-server's qemu template under TCG: serial console, no network, one CPU.
  cat >"$DEVICES_DIR/$name.jinja2" <<EOF
{% extends 'qemu.jinja2' %}
{% set mac_addr = '52:54:00:12:34:59' %}
{% set memory = 768 %}
{% set no_kvm = True %}
{% set netdevice = 'user,restrict=on' %}
{% set extra_options = ['-accel tcg', '-cpu max', '-smp 1', '-no-reboot'] %}
EOF
  chown lavaserver:lavaserver "$DEVICES_DIR/$name.jinja2"
  if ! listed devices "$name"; then
    manage devices add --device-type qemu --worker "$WORKER" "$name" >/dev/null
  fi
  manage devices update --health GOOD "$name" >/dev/null 2>&1 || true
  say "device $name (kernel $kname, $1)"
}

cmd_up() {
  need_root
  mkdir -p "$STATE"
  local start=$SECONDS
  install_packages
  start_postgres
  # The server's database is created by the postinst; migrate in case.
  manage migrate --noinput >"$STATE/migrate.log" 2>&1 || die "migrate failed: $(tail -1 "$STATE/migrate.log")"
  start_daemon gunicorn gunicorn3 lava_server.wsgi -u lavaserver -g lavaserver \
    --worker-class eventlet --workers 2 --bind "127.0.0.1:$PORT"
  wait_http
  start_daemon scheduler lava-server manage lava-scheduler --level INFO \
    --log-file "$STATE/scheduler-lava.log"
  # The worker authenticates with its token; one registered beforehand
  # (here, or by an earlier `up`) no longer auto-registers, so hand it over.
  listed workers "$WORKER" || manage workers add "$WORKER" >/dev/null
  mkdir -p "$STATE/worker"
  (umask 077; manage shell -c "from lava_scheduler_app.models import Worker; \
print(Worker.objects.get(hostname='$WORKER').token)" | tail -1 >"$STATE/worker/token")
  [[ -s $STATE/worker/token ]] || die "no token for worker $WORKER"
  start_daemon worker nice -n 10 lava-worker --name "$WORKER" --url "$URL/" \
    --worker-dir "$STATE/worker" --token-file "$STATE/worker/token" --level INFO \
    --log-file "$STATE/worker-lava.log"
  if ! listed users admin; then
    manage users add admin --superuser --staff --passwd "$(head -c 16 /dev/urandom | base64)" >/dev/null
  fi
  if [[ ! -s $STATE/token ]]; then
    (umask 077; manage tokens add --user admin | tail -1 >"$STATE/token")
  fi
  lavacli identities add --uri "$URL/RPC2" --username admin --token "$(cat "$STATE/token")" \
    "$IDENTITY" >/dev/null
  listed device-types qemu || manage device-types add qemu >/dev/null
  local manifests=("$@")
  ((${#manifests[@]})) || manifests=("$ROOT"/kernels/debian-6.1-amd64.toml "$ROOT"/kernels/debian-6.12-amd64.toml)
  local m
  for m in "${manifests[@]}"; do add_device "$m"; done
  say "up in $((SECONDS - start)) s: $URL, lavacli identity $IDENTITY; stop with: $0 down"
}

cmd_status() {
  local name rc=0
  for name in gunicorn scheduler worker; do
    if alive "$name"; then echo "$name: running (PID $(cat "$STATE/$name.pid"))"
    else echo "$name: not running"; rc=3; fi
  done
  if [[ -e $STATE/postgres.started-by-us ]]; then echo "postgresql: started by lava-lab"; fi
  if curl -fsS -o /dev/null "$URL/api/v0.2/" 2>/dev/null; then
    echo "server: answering at $URL"
    lavacli -i "$IDENTITY" devices list 2>/dev/null || true
  else
    echo "server: not answering at $URL"; rc=3
  fi
  return $rc
}

cmd_down() {
  need_root
  [[ -d $STATE ]] || { say "nothing to stop ($STATE does not exist)"; return 0; }
  stop_daemon worker
  stop_daemon scheduler
  stop_daemon gunicorn
  if [[ -e $STATE/postgres.started-by-us ]]; then
    pg_ctlcluster $PG_VERSION main stop && say "PostgreSQL $PG_VERSION/main stopped"
    rm -f "$STATE/postgres.started-by-us"
  fi
  lavacli identities delete "$IDENTITY" >/dev/null 2>&1 || true
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
