#!/usr/bin/env bash
# Local ClickHouse for Footfall development and tests.
#
#   scripts/infra/clickhouse.sh install   # apt clickhouse-server/-client (18.16) + PyPI chdb (current engine)
#   scripts/infra/clickhouse.sh start     # background server on 127.0.0.1, state under $FOOTFALL_STATE
#   scripts/infra/clickhouse.sh status    # exit 0 when running and healthy, 3 otherwise
#   scripts/infra/clickhouse.sh stop
#   scripts/infra/clickhouse.sh reset     # stop + delete the state dir
#   scripts/infra/clickhouse.sh sql "SELECT version()"
#   scripts/infra/clickhouse.sh sql "INSERT INTO t FORMAT JSONEachRow" rows.json   # or '-' for stdin
#   scripts/infra/clickhouse.sh env       # print CLICKHOUSE_URL etc. for `eval`
#
# Environment:
#   FOOTFALL_STATE                  state root (default: $HOME/.cache/footfall/state)
#   FOOTFALL_CLICKHOUSE_HTTP_PORT   HTTP port (default 18123)
#   FOOTFALL_CLICKHOUSE_TCP_PORT    native TCP port (default 19000)
#   FOOTFALL_CLICKHOUSE_START_TIMEOUT  seconds to wait for /ping (default 60)
#   PYTHON                          interpreter used for chdb (default python3)
#
# The server is a plain background process (no systemd, no init.d). All of its
# files (data, tmp, logs, generated config.xml/users.xml, pid) live under
# $FOOTFALL_STATE/clickhouse. See docs/clickhouse-compat.md for what the
# Debian 18.16 server does and does not support compared with chdb.
set -euo pipefail

# Pinned versions (verified together; see docs/clickhouse-compat.md).
CHDB_VERSION="4.4.0"          # PyPI chdb (Python API)
CHDB_CORE_VERSION="26.9.0"    # PyPI chdb-core (the engine: ClickHouse 26.9.2.1)
CH_APT_PACKAGES=(clickhouse-server clickhouse-client)   # Debian bookworm: 18.16.1+ds

STATE_ROOT="${FOOTFALL_STATE:-$HOME/.cache/footfall/state}"
CH_DIR="$STATE_ROOT/clickhouse"
HTTP_PORT="${FOOTFALL_CLICKHOUSE_HTTP_PORT:-18123}"
TCP_PORT="${FOOTFALL_CLICKHOUSE_TCP_PORT:-19000}"
START_TIMEOUT="${FOOTFALL_CLICKHOUSE_START_TIMEOUT:-60}"
PYTHON="${PYTHON:-python3}"
SERVER_BIN="${CLICKHOUSE_SERVER_BIN:-/usr/sbin/clickhouse-server}"
PID_FILE="$CH_DIR/clickhouse-server.pid"
LOG_DIR="$CH_DIR/log"
BASE_URL="http://127.0.0.1:${HTTP_PORT}"

log() { printf '[clickhouse.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- install ---

apt_pkg_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

install_server() {
  local missing=() p
  for p in "${CH_APT_PACKAGES[@]}"; do
    apt_pkg_installed "$p" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "apt: ${CH_APT_PACKAGES[*]} already installed"
    return 0
  fi
  command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} by hand"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  # Keep the package's postinst from starting a system-wide server (init.d/systemd):
  # we run our own instance. Only add a policy-rc.d when none exists, and remove it after.
  local added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  log "apt: installing ${missing[*]}"
  local rc=0
  {
    "${sudo[@]}" apt-get update -qq &&
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  } || rc=$?
  [ "$added_policy" -eq 0 ] || "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
  [ "$rc" -eq 0 ] || die "apt-get install ${missing[*]} failed (rc=$rc)"
}

chdb_installed_version() {
  "$PYTHON" - <<'EOF' 2>/dev/null
import importlib.util, importlib.metadata as m, sys
if importlib.util.find_spec("chdb") is None:
    sys.exit(1)
print(m.version("chdb"))
EOF
}

install_chdb() {
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found (needed for chdb)"
  local have
  if have="$(chdb_installed_version)"; then
    if [ "$have" != "$CHDB_VERSION" ]; then
      log "pip: chdb $have importable (pinned $CHDB_VERSION); leaving it as is"
    else
      log "pip: chdb $have already installed"
    fi
    return 0
  fi
  local extra=()
  # Debian's own python is "externally managed" (PEP 668); pyenv/venv pythons are not.
  if "$PYTHON" -c 'import sys,sysconfig,os; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["stdlib"],"EXTERNALLY-MANAGED")) and sys.prefix==sys.base_prefix else 1)'; then
    extra+=(--break-system-packages)
  fi
  log "pip: installing chdb==$CHDB_VERSION chdb-core==$CHDB_CORE_VERSION (~250 MB with pyarrow/pandas)"
  "$PYTHON" -m pip install -q --disable-pip-version-check "${extra[@]}" \
    "chdb==$CHDB_VERSION" "chdb-core==$CHDB_CORE_VERSION"
  chdb_installed_version >/dev/null || die "chdb still not importable after pip install"
}

cmd_install() {
  install_server
  install_chdb
}

# ------------------------------------------------------------------ config ---

write_config() {
  mkdir -p "$CH_DIR"/{data,tmp,user_files,format_schemas} "$LOG_DIR"
  # Minimal config for the Debian 18.16 server. <yandex> is the root element
  # that 18.x expects (newer servers accept <clickhouse> too).
  # No <interserver_http_port>: replication is not used, so it stays disabled.
  cat >"$CH_DIR/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by scripts/infra/clickhouse.sh; rewritten on every start. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$LOG_DIR/clickhouse-server.log</log>
        <errorlog>$LOG_DIR/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>

    <listen_host>127.0.0.1</listen_host>
    <http_port>$HTTP_PORT</http_port>
    <tcp_port>$TCP_PORT</tcp_port>

    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>

    <path>$CH_DIR/data/</path>
    <tmp_path>$CH_DIR/tmp/</tmp_path>
    <user_files_path>$CH_DIR/user_files/</user_files_path>
    <format_schema_path>$CH_DIR/format_schemas/</format_schema_path>
    <users_config>$CH_DIR/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>

    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>

    <query_log>
        <database>system</database>
        <table>query_log</table>
        <partition_by>toYYYYMM(event_date)</partition_by>
        <flush_interval_milliseconds>7500</flush_interval_milliseconds>
    </query_log>
</yandex>
EOF

  cat >"$CH_DIR/users.xml" <<'EOF'
<?xml version="1.0"?>
<!-- Generated by scripts/infra/clickhouse.sh; rewritten on every start. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
            <!-- 18.16: LowCardinality(T) is experimental and rejected in CREATE TABLE
                 without this. Current ClickHouse ignores/has removed this setting. -->
            <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
        </default>
        <readonly>
            <readonly>1</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

# ----------------------------------------------------------------- runtime ---

server_pid() {
  # Prints the pid of *our* server (from our pid file) if it is alive.
  [ -s "$PID_FILE" ] || return 1
  local pid
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse: the process must be clickhouse-server.
  grep -q 'clickhouse' "/proc/$pid/cmdline" 2>/dev/null || return 1
  printf '%s\n' "$pid"
}

ping_ok() {
  [ "$(curl -s --max-time 2 "$BASE_URL/ping" 2>/dev/null)" = "Ok." ]
}

show_log_tail() {
  local f
  for f in "$LOG_DIR/stdout.log" "$LOG_DIR/clickhouse-server.err.log" "$LOG_DIR/clickhouse-server.log"; do
    [ -s "$f" ] || continue
    log "---- tail -n 40 $f"
    tail -n 40 "$f" >&2
  done
}

cmd_start() {
  local pid
  if pid="$(server_pid)" && ping_ok; then
    log "already running (pid $pid) on $BASE_URL"
    return 0
  fi
  if ping_ok; then
    die "something else already answers on $BASE_URL/ping (not our pid file $PID_FILE); set FOOTFALL_CLICKHOUSE_HTTP_PORT"
  fi
  if pid="$(server_pid)"; then
    # Process alive but not healthy (still starting, or wedged): wait a bit before giving up.
    log "server pid $pid exists but /ping does not answer yet; waiting"
  else
    [ -x "$SERVER_BIN" ] || die "$SERVER_BIN not found: run '$0 install' first"
    command -v curl >/dev/null || die "curl not found"
    rm -f "$PID_FILE"
    write_config
    log "starting clickhouse-server (state $CH_DIR, http $HTTP_PORT, tcp $TCP_PORT)"
    # Plain background process in its own session; the server writes the pid file itself.
    (
      cd "$CH_DIR"
      exec setsid "$SERVER_BIN" --config-file="$CH_DIR/config.xml" --pid-file="$PID_FILE" \
        </dev/null >>"$LOG_DIR/stdout.log" 2>&1
    ) &
    local launcher=$!
    # If the server has not written its pid file quickly, fall back to the launched pid.
    for _ in $(seq 1 20); do
      [ -s "$PID_FILE" ] && break
      kill -0 "$launcher" 2>/dev/null || break
      sleep 0.1
    done
    [ -s "$PID_FILE" ] || ! kill -0 "$launcher" 2>/dev/null || echo "$launcher" >"$PID_FILE"
  fi
  local t0=$SECONDS
  until ping_ok; do
    if ! server_pid >/dev/null; then
      show_log_tail
      die "clickhouse-server exited during startup"
    fi
    if [ $((SECONDS - t0)) -ge "$START_TIMEOUT" ]; then
      show_log_tail
      die "clickhouse-server did not answer $BASE_URL/ping within ${START_TIMEOUT}s"
    fi
    sleep 0.2
  done
  log "running (pid $(server_pid || echo '?')) on $BASE_URL, version $(cmd_sql 'SELECT version()' 2>/dev/null || echo '?')"
}

cmd_stop() {
  local pid
  if ! pid="$(server_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do # up to 30 s
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid did not exit after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid tcp="$TCP_PORT"
  if pid="$(server_pid)"; then
    # Report the ports the running instance was started with (its generated config).
    [ ! -f "$CH_DIR/config.xml" ] || tcp="$(sed -n 's:.*<tcp_port>\([0-9]*\)</tcp_port>.*:\1:p' "$CH_DIR/config.xml")"
    if ping_ok; then
      echo "running pid=$pid url=$BASE_URL tcp_port=$tcp version=$(cmd_sql 'SELECT version()' 2>/dev/null || echo '?') state=$CH_DIR"
      return 0
    fi
    echo "unhealthy pid=$pid url=$BASE_URL (no /ping answer) state=$CH_DIR"
    return 3
  fi
  echo "stopped state=$CH_DIR"
  return 3
}

cmd_reset() {
  cmd_stop
  case "$CH_DIR" in
    */clickhouse) ;;
    *) die "refusing to delete unexpected path $CH_DIR" ;;
  esac
  rm -rf -- "$CH_DIR"
  log "deleted $CH_DIR"
}

urlencode() {
  local LC_ALL=C s="$1" out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c="${s:i:1}"
    case "$c" in
      [a-zA-Z0-9.~_-]) out+="$c" ;;
      *) out+="$(printf '%%%02X' "'$c")" ;;
    esac
  done
  printf '%s' "$out"
}

# sql QUERY            -> query sent as the POST body
# sql QUERY FILE|-     -> query in ?query=, FILE (or stdin) as the POST body (INSERT ... FORMAT X)
cmd_sql() {
  [ $# -ge 1 ] || die "usage: $0 sql QUERY [DATA_FILE|-]"
  local q="$1" url="$BASE_URL/" out code
  out="$(mktemp)"
  if [ $# -ge 2 ]; then
    code="$(curl -sS -o "$out" -w '%{http_code}' --data-binary "@$2" "$url?query=$(urlencode "$q")")" || code=000
  else
    code="$(curl -sS -o "$out" -w '%{http_code}' --data-binary "$q" "$url")" || code=000
  fi
  if [ "$code" = 200 ]; then
    cat "$out"
    rm -f "$out"
    return 0
  fi
  cat "$out" >&2
  rm -f "$out"
  [ "$code" != 000 ] || log "no answer from $BASE_URL (is the server running? '$0 start')"
  return 1
}

cmd_env() {
  printf 'export CLICKHOUSE_URL=%q\n' "$BASE_URL"
  printf 'export FOOTFALL_CLICKHOUSE_HTTP_PORT=%q\n' "$HTTP_PORT"
  printf 'export FOOTFALL_CLICKHOUSE_TCP_PORT=%q\n' "$TCP_PORT"
}

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
}

main() {
  local cmd="${1:-}"
  [ $# -eq 0 ] || shift
  case "$cmd" in
    install) cmd_install "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    reset) cmd_reset "$@" ;;
    restart) cmd_stop && cmd_start ;;
    sql) cmd_sql "$@" ;;
    env) cmd_env ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
