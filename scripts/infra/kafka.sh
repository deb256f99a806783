#!/usr/bin/env bash
# Footfall dev infra: a real single-node Apache Kafka broker (KRaft, combined
# broker+controller) assembled from Maven Central jars -- no Kafka tarball,
# no docker.  Everything lives outside the repo:
#
#   jars   : ${FOOTFALL_CACHE:-$HOME/.cache/footfall}/kafka/<version>/libs
#   state  : ${FOOTFALL_STATE:-$HOME/.cache/footfall/state}/kafka/{config,data,logs,run}
#            (kafka-<port>/ for a broker on a port other than the default 19092)
#
# Usage: scripts/infra/kafka.sh <command> [args]
#   install                       fetch broker + tools jars (idempotent)
#   start                         format storage if needed, start broker, wait until healthy
#   stop                          SIGTERM, wait, SIGKILL (no-op if not running)
#   restart                       stop + start
#   status                        exit 0 iff running and answering metadata requests
#   reset                         stop and delete the data dir
#   topics-create NAME [PARTS]    create topic if missing (default 1 partition)
#   topics-list                   list topics
#   produce TOPIC                 send stdin lines as messages (console producer)
#   consume TOPIC [MAX] [TIMEOUT_MS]  print messages from the beginning (console consumer)
#   bootstrap                     print the bootstrap server address
#   bootstrap-tls                 print the TLS listener's address (same broker, port + 2)
#   bootstrap-sasl                print the SASL_SSL listener's address (port + 3; SCRAM-SHA-512,
#                                 user footfall, password footfall-dev, the TLS listener's certificate)
#   tls-ca                        print the path of the PEM certificate clients verify the TLS
#                                 listener with (self-signed for 127.0.0.1, made once, kept in state)
#   logs [N]                      tail the broker log
#
# Environment knobs:
#   FOOTFALL_KAFKA_VERSION          (default 4.3.1; newest where kafka_2.13 AND kafka-tools resolve)
#   FOOTFALL_KAFKA_PORT             broker port       (default 19092)
#   FOOTFALL_KAFKA_CONTROLLER_PORT  controller port   (default 19093)
#   FOOTFALL_KAFKA_TLS_PORT         TLS listener port (default: broker port + 2, 19094)
#   FOOTFALL_KAFKA_SASL_PORT        SASL_SSL listener port (default: broker port + 3, 19095)
#   FOOTFALL_KAFKA_HEAP             broker max heap   (default 512m)
#   FOOTFALL_KAFKA_GC_OPTS          the broker's GC options (default G1, 20 ms pause goal;
#                                   ZGC measured worse on 2 cores, see docs/benchmarks.md)
#   FOOTFALL_KAFKA_JVM_OPTS         extra JVM options for the broker (e.g. -Xlog:gc:file=/tmp/gc.log)
#   FOOTFALL_KAFKA_SERVER_PROPS     extra server.properties lines, appended (a later key wins),
#                                   e.g. $'num.io.threads=2\nnum.network.threads=1'
#   FOOTFALL_KAFKA_START_TIMEOUT    seconds           (default 90)
#   FOOTFALL_KAFKA_RETENTION_BYTES  bytes a partition keeps before its oldest segments are deleted
#                                   (default 4 GiB; -1 keeps everything)
#   FOOTFALL_KAFKA_MAX_PARTITION_DIRS  on start of a stopped broker, delete its data first when it
#                                   holds more partition directories than this (default: never)
#   FOOTFALL_KAFKA_M2               optional private maven local repo for install
set -euo pipefail

KAFKA_VERSION="${FOOTFALL_KAFKA_VERSION:-4.3.1}"
# log4j2 version Kafka 4.3.1 itself depends on (kafka-server -> log4j-core 2.25.4);
# we add the matching slf4j-1.x binding, which Kafka's poms do not pull in.
LOG4J_VERSION="${FOOTFALL_KAFKA_LOG4J_VERSION:-2.25.4}"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

CACHE_ROOT="${FOOTFALL_CACHE:-$HOME/.cache/footfall}"
STATE_ROOT="${FOOTFALL_STATE:-$HOME/.cache/footfall/state}"
KAFKA_HOME="$CACHE_ROOT/kafka/$KAFKA_VERSION"
LIBS="$KAFKA_HOME/libs"
INSTALL_MARKER="$KAFKA_HOME/.installed"

HOST=127.0.0.1
PORT="${FOOTFALL_KAFKA_PORT:-19092}"
# A broker on another port gets its own state, so that starting one (say, for a benchmark) never
# makes this script take it for the default broker and report that one unhealthy.
if [[ "$PORT" == 19092 ]]; then STATE="$STATE_ROOT/kafka"; else STATE="$STATE_ROOT/kafka-$PORT"; fi
CONF_DIR="$STATE/config"
DATA_DIR="$STATE/data"
LOG_DIR="$STATE/logs"
RUN_DIR="$STATE/run"
PID_FILE="$RUN_DIR/kafka.pid"
SERVER_PROPS="$CONF_DIR/server.properties"
BROKER_LOG4J="$CONF_DIR/log4j2.properties"
TOOLS_LOG4J="$CONF_DIR/tools-log4j2.properties"
ADMIN_PROPS="$CONF_DIR/admin-client.properties"

CONTROLLER_PORT="${FOOTFALL_KAFKA_CONTROLLER_PORT:-19093}"
TLS_PORT="${FOOTFALL_KAFKA_TLS_PORT:-$((PORT + 2))}"
SASL_PORT="${FOOTFALL_KAFKA_SASL_PORT:-$((PORT + 3))}"
# The SCRAM user the SASL_SSL listener knows, made on every start (idempotent).
SASL_USER=footfall
SASL_PASSWORD=footfall-dev
TLS_DIR="$CONF_DIR/tls"
TLS_KEYSTORE="$TLS_DIR/broker.p12"
TLS_CA="$TLS_DIR/ca.pem"
# A development broker's keystore on the developer's own disk: the password protects nothing.
TLS_KEYSTORE_PASSWORD=footfall-dev
HEAP="${FOOTFALL_KAFKA_HEAP:-512m}"
START_TIMEOUT="${FOOTFALL_KAFKA_START_TIMEOUT:-90}"
RETENTION_BYTES="${FOOTFALL_KAFKA_RETENTION_BYTES:-4294967296}"
BOOTSTRAP="$HOST:$PORT"
# Fixed cluster id: base64url("FootfallKafka001") without padding (22 chars / 16 bytes).
CLUSTER_ID="Rm9vdGZhbGxLYWZrYTAwMQ"

log() { printf '[kafka.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found in PATH"; }

is_installed() {
  [[ -f "$INSTALL_MARKER" && -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" \
     && -f "$LIBS/kafka-tools-$KAFKA_VERSION.jar" ]]
}

# ---------------------------------------------------------------- install ---
cmd_install() {
  if is_installed; then
    log "kafka $KAFKA_VERSION already installed in $LIBS"
    return 0
  fi
  need java
  need mvn
  mkdir -p "$KAFKA_HOME"
  local tmp
  tmp="$(mktemp -d "$KAFKA_HOME/.install.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  cat >"$tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>footfall.infra</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <!-- broker (kafka.Kafka, kafka.tools.StorageTool) + all server modules -->
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <!-- TopicCommand, ConsoleProducer, consumer.ConsoleConsumer, ... -->
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
      <exclusions>
        <!-- only needed by the connect-plugin-path tool; drags in jetty/jersey -->
        <exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion>
        <exclusion><groupId>com.fasterxml.jackson.jakarta.rs</groupId><artifactId>jackson-jakarta-rs-json-provider</artifactId></exclusion>
      </exclusions>
    </dependency>
    <!-- slf4j 1.7 -> log4j2 binding (Kafka only ships slf4j-api + log4j-core) -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  local mvn_args=(-B -q -Dstyle.color=never -f "$tmp/pom.xml")
  [[ -n "${FOOTFALL_KAFKA_M2:-}" ]] && mvn_args+=("-Dmaven.repo.local=$FOOTFALL_KAFKA_M2")
  log "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION + kafka-tools + deps from Maven Central..."
  # (maven 3.8 emits stray ANSI resets even in batch mode; strip them, keep errors on stderr)
  mvn "${mvn_args[@]}" "$DEP_PLUGIN:copy-dependencies" \
      -DincludeScope=runtime -DoutputDirectory="$tmp/libs" 2>&1 \
    | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2 \
    || die "maven resolution failed"
  [[ -f "$tmp/libs/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka_2.13 jar missing after resolution"
  rm -rf "$LIBS"
  mv "$tmp/libs" "$LIBS"
  cp "$tmp/pom.xml" "$KAFKA_HOME/pom.xml"
  ls "$LIBS" >"$INSTALL_MARKER"
  rm -rf "$tmp"
  trap - EXIT
  log "installed $(wc -l <"$INSTALL_MARKER") jars ($(du -sh "$LIBS" | cut -f1)) into $LIBS"
}

# ---------------------------------------------------------------- helpers ---
# The TLS listener's key and self-signed certificate (valid for 127.0.0.1 and localhost, so clients
# can verify the host name too), made once.
tls_material() {
  [[ -s "$TLS_KEYSTORE" && -s "$TLS_CA" ]] && return 0
  command -v keytool >/dev/null 2>&1 || die "keytool (from the JDK) is needed for the TLS listener"
  mkdir -p "$TLS_DIR"
  rm -f "$TLS_KEYSTORE" "$TLS_CA"
  keytool -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 3650 \
    -dname "CN=localhost, O=Footfall development" -ext "SAN=ip:$HOST,dns:localhost" \
    -storetype PKCS12 -keystore "$TLS_KEYSTORE" -storepass "$TLS_KEYSTORE_PASSWORD" >/dev/null \
    || die "keytool could not make the TLS key"
  keytool -exportcert -rfc -alias broker -keystore "$TLS_KEYSTORE" \
    -storepass "$TLS_KEYSTORE_PASSWORD" -file "$TLS_CA" >/dev/null \
    || die "keytool could not export the TLS certificate"
}

# The SASL_SSL listener's SCRAM user; SCRAM credentials live in the cluster's metadata, so they are
# set through the running broker.
scram_user() {
  kjava kafka.admin.ConfigCommand --bootstrap-server "$BOOTSTRAP" --alter \
    --add-config "SCRAM-SHA-512=[iterations=4096,password=$SASL_PASSWORD]" \
    --entity-type users --entity-name "$SASL_USER" >/dev/null \
    || die "could not set the SCRAM user $SASL_USER"
}

write_configs() {
  tls_material
  mkdir -p "$CONF_DIR" "$DATA_DIR" "$LOG_DIR" "$RUN_DIR"
  cat >"$SERVER_PROPS" <<EOF
# generated by scripts/infra/kafka.sh -- do not edit, regenerated on start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$PORT,SSL://$HOST:$TLS_PORT,SASL_SSL://$HOST:$SASL_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT,SSL://$HOST:$TLS_PORT,SASL_SSL://$HOST:$SASL_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL
# The TLS and SASL_SSL listeners, for the tests of the collector's secured connections
# (scripts/infra/kafka.sh tls-ca, bootstrap-sasl)
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_KEYSTORE
ssl.keystore.password=$TLS_KEYSTORE_PASSWORD
log.dirs=$DATA_DIR

# single node
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0

# small machine
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.dedupe.buffer.size=33554432
log.retention.hours=168
# A development broker keeps each partition bounded: benchmark runs (a 10 s run at peak writes over
# 1 GB into footfall.events) had piled up 42 GB there and filled the disk, and the broker died of it.
# Retention deletes whole segments, so they are kept small enough for the bound to bite.
log.retention.bytes=$RETENTION_BYTES
log.segment.bytes=268435456
log.retention.check.interval.ms=30000
${FOOTFALL_KAFKA_SERVER_PROPS:+
# from FOOTFALL_KAFKA_SERVER_PROPS (a later key wins)
}${FOOTFALL_KAFKA_SERVER_PROPS:-}
EOF
  cat >"$BROKER_LOG4J" <<EOF
status = warn
name = footfall-kafka-broker
# let Kafka's own shutdown hook log until the very end
shutdownHook = disable
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = $LOG_DIR/server.log
appender.file.filePattern = $LOG_DIR/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
  cat >"$TOOLS_LOG4J" <<EOF
status = error
name = footfall-kafka-tools
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
  cat >"$ADMIN_PROPS" <<EOF
request.timeout.ms=5000
default.api.timeout.ms=10000
EOF
}

# Run a Kafka CLI class with a small, fast-starting JVM.
kjava() {
  [[ -f "$TOOLS_LOG4J" ]] || write_configs
  java -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$TOOLS_LOG4J" \
    -cp "$LIBS/*" "$@"
}

# pid of our broker if alive (verifies the pid really is our kafka.Kafka).
broker_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $SERVER_PROPS" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

metadata_ok() {
  timeout 30 java -Xms32m -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$TOOLS_LOG4J" -cp "$LIBS/*" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
    --command-config "$ADMIN_PROPS" --list >/dev/null 2>&1
}

healthy() { broker_pid >/dev/null && port_open "$PORT" && metadata_ok; }

show_log_tail() {
  log "---- tail of $LOG_DIR/server.log ----"
  tail -n "${1:-60}" "$LOG_DIR/server.log" >&2 2>/dev/null || true
  if [[ -s "$LOG_DIR/stdout.log" ]]; then
    log "---- tail of $LOG_DIR/stdout.log ----"
    tail -n 30 "$LOG_DIR/stdout.log" >&2 || true
  fi
}

wait_healthy() {
  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! broker_pid >/dev/null; then
      log "broker process exited during startup"
      show_log_tail
      return 1
    fi
    if port_open "$PORT" && metadata_ok; then
      return 0
    fi
    sleep 1
  done
  log "broker not healthy after ${START_TIMEOUT}s"
  show_log_tail
  return 1
}

# ------------------------------------------------------------------ start ---
cmd_start() {
  cmd_install
  local pid
  if pid="$(broker_pid)"; then
    if port_open "$PORT" && metadata_ok && ! { port_open "$TLS_PORT" && port_open "$SASL_PORT"; }; then
      log "the running broker (pid $pid) has no TLS or SASL_SSL listener on $HOST:$TLS_PORT/$SASL_PORT (an older kafka.sh started it): restarting it"
      cmd_stop
    elif port_open "$PORT" && metadata_ok; then
      log "already running (pid $pid) on $BOOTSTRAP"
      return 0
    else
      log "broker pid $pid exists but is not healthy yet; waiting..."
      wait_healthy || die "running broker (pid $pid) is unhealthy; try '$0 restart'"
      log "running (pid $pid) on $BOOTSTRAP"
      return 0
    fi
  fi
  rm -f "$PID_FILE"
  if port_open "$PORT" || port_open "$CONTROLLER_PORT" || port_open "$TLS_PORT" || port_open "$SASL_PORT"; then
    die "port $PORT, $CONTROLLER_PORT, $TLS_PORT or $SASL_PORT on $HOST is already in use by another process"
  fi

  prune_if_crowded
  write_configs
  if [[ ! -f "$DATA_DIR/meta.properties" ]]; then
    log "formatting KRaft storage in $DATA_DIR (cluster id $CLUSTER_ID)"
    kjava kafka.tools.StorageTool format --config "$SERVER_PROPS" \
      --cluster-id "$CLUSTER_ID" --ignore-formatted >&2 \
      || die "storage format failed"
  fi

  log "starting kafka $KAFKA_VERSION on $BOOTSTRAP (controller $HOST:$CONTROLLER_PORT, heap $HEAP)"
  local launcher=() jvm_opts=() gc_opts=()
  read -ra jvm_opts <<<"${FOOTFALL_KAFKA_JVM_OPTS:-}"
  read -ra gc_opts <<<"${FOOTFALL_KAFKA_GC_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent}"
  command -v setsid >/dev/null 2>&1 && launcher=(setsid)
  # The inner shell writes its own pid and then execs java, so the pid file is
  # the JVM's pid. setsid detaches it from the caller's process group.
  nohup "${launcher[@]}" bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
    java -Xmx"$HEAP" \
      "${gc_opts[@]}" "${jvm_opts[@]}" \
      -Djava.awt.headless=true \
      -Dkafka.logs.dir="$LOG_DIR" \
      -Dlog4j2.configurationFile="$BROKER_LOG4J" \
      -cp "$LIBS/*" kafka.Kafka "$SERVER_PROPS" \
      </dev/null >"$LOG_DIR/stdout.log" 2>&1 &
  # wait for the pid file to appear
  local i
  for i in $(seq 1 50); do [[ -s "$PID_FILE" ]] && break; sleep 0.1; done
  [[ -s "$PID_FILE" ]] || die "broker did not start (no pid file)"

  if wait_healthy; then
    scram_user
    log "running (pid $(cat "$PID_FILE")) on $BOOTSTRAP"
  else
    cmd_stop || true
    die "broker failed to become healthy"
  fi
}

# Tests name their topics uniquely per run, so a long-lived state directory collects them all and
# the broker's start-up (log recovery) grows with it. Only for a stopped broker, and only when asked.
prune_if_crowded() {
  local limit="${FOOTFALL_KAFKA_MAX_PARTITION_DIRS:-}"
  [[ -n "$limit" && -d "$DATA_DIR" ]] || return 0
  local count
  count="$(find "$DATA_DIR" -mindepth 1 -maxdepth 1 -type d | wc -l)"
  if ((count > limit)); then
    log "$count partition directories in $DATA_DIR (over $limit): deleting the broker's data"
    rm -rf "$DATA_DIR"
  fi
}

# ------------------------------------------------------------------- stop ---
cmd_stop() {
  local pid
  if ! pid="$(broker_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after 30s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid
  if ! pid="$(broker_pid)"; then
    log "not running"
    return 1
  fi
  if port_open "$PORT" && metadata_ok; then
    log "running (pid $pid) on $BOOTSTRAP, healthy"
    return 0
  fi
  log "process $pid alive but broker not answering on $BOOTSTRAP"
  return 1
}

cmd_reset() {
  cmd_stop
  log "deleting $DATA_DIR"
  rm -rf "$DATA_DIR"
}

require_running() {
  broker_pid >/dev/null || die "broker not running; run '$0 start' first"
}

cmd_topics_create() {
  local name="${1:?usage: topics-create NAME [PARTITIONS]}" parts="${2:-1}"
  require_running
  kjava org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
    --command-config "$ADMIN_PROPS" --create --if-not-exists \
    --topic "$name" --partitions "$parts" --replication-factor 1
}

cmd_topics_list() {
  require_running
  kjava org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
    --command-config "$ADMIN_PROPS" --list
}

cmd_produce() {
  local topic="${1:?usage: produce TOPIC  (messages on stdin, one per line)}"
  require_running
  kjava org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$BOOTSTRAP" --topic "$topic"
}

cmd_consume() {
  local topic="${1:?usage: consume TOPIC [MAX_MESSAGES] [TIMEOUT_MS]}"
  local max="${2:-}" tmo="${3:-10000}"
  require_running
  local args=(--bootstrap-server "$BOOTSTRAP" --topic "$topic" --from-beginning --timeout-ms "$tmo")
  [[ -n "$max" ]] && args+=(--max-messages "$max")
  kjava org.apache.kafka.tools.consumer.ConsoleConsumer "${args[@]}"
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    status) cmd_status ;;
    reset) cmd_reset ;;
    topics-create) cmd_topics_create "$@" ;;
    topics-list) cmd_topics_list ;;
    produce) cmd_produce "$@" ;;
    consume) cmd_consume "$@" ;;
    bootstrap) echo "$BOOTSTRAP" ;;
    bootstrap-tls) echo "$HOST:$TLS_PORT" ;;
    bootstrap-sasl) echo "$HOST:$SASL_PORT" ;;
    tls-ca) tls_material; echo "$TLS_CA" ;;
    logs) tail -n "${1:-100}" "$LOG_DIR/server.log" ;;
    *)
      sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
      [[ -z "$cmd" || "$cmd" == -h || "$cmd" == --help || "$cmd" == help ]] && exit 0
      exit 2
      ;;
  esac
}

main "$@"
