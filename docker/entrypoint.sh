#!/bin/bash
# The container's entrypoint: turns the environment a scheduler (Marathon) sets into a
# `sluice run` command line, then execs sluice so that it receives SIGTERM itself (tini, PID 1,
# forwards it) and drains its queues within --shutdown.timeout.
#
#   SLUICE_ROLE=flume-kafka KAFKA_BROKERS=k1:9092 KAFKA_TOPICS=logs KAFKA_GROUP=g \
#     ES_HOSTS=http://es:9200 sluice-entrypoint [extra sluice run flags...]
#
# Environment read here (empty counts as unset):
#   SLUICE_ROLE        the role pipeline: $SLUICE_CONFIG_DIR/$SLUICE_ROLE.conf
#   SLUICE_CONFIG      a pipeline file or folder of one's own instead of a role
#   SLUICE_CONFIG_DIR  where the role pipelines are (image: /usr/share/sluice/configs)
#   SLUICE_SETTINGS    the base settings file (image: /usr/share/sluice/sluice.toml)
#   SLUICE_PATH_DATA   --path.data (image: /var/lib/sluice, a volume)
#   SLUICE_WORKERS     --pipeline.workers
#   HTTP_HOST          --http.host (image: 0.0.0.0, so health checks reach the node API)
#   HTTP_PORT          --http.port (image: 9600)
#   SHUTDOWN_TIMEOUT   --shutdown.timeout ("50s"; keep it below the scheduler's kill grace)
#   FILTERS_REPO       --filters.repo (the filter release repository)
#   FILTERS_REF        --filters.ref (a tag glob such as release-*)
#   FILTERS_PATH       --filters.path
#   FILTERS_POLL_INTERVAL  --filters.poll_interval
#   STATSD_HOST, STATSD_PORT, STATSD_PREFIX, STATSD_TAGS, STATSD_FLUSH_INTERVAL
#                      metrics.statsd.* (no flags exist for them: they are written, with the
#                      base settings file after them, into a settings file under $TMPDIR)
#   SLUICE_BIN         the sluice binary (default: `sluice` on PATH; tests point it elsewhere)
#   SLUICE_REQUIRE_ENV "false" skips the check that a role's pipeline variables are set
# The role pipelines themselves read ES_HOSTS, KAFKA_BROKERS, KAFKA_TOPICS, KAFKA_GROUP, ... as
# ${VAR} (see their headers); this script only checks that a role's essential ones are set and
# hold one value each, as the pipelines cannot take lists from the environment yet.
#
# Arguments: none, or sluice run flags (appended, so they win over everything above). A first
# argument that is not a flag runs that command instead: `check -f x.conf` or `test filters/`
# (a sluice subcommand) or any program (`bash`).

set -euo pipefail
# Failures inside $(...) stop the script too (bash leaves errexit off in them otherwise).
shopt -s inherit_errexit

readonly ROLE_VARS_syslog_receiver="ES_HOSTS"
readonly ROLE_VARS_flume_kafka="ES_HOSTS KAFKA_BROKERS KAFKA_TOPICS KAFKA_GROUP"
readonly ROLE_VARS_container_logs="ES_HOSTS"
readonly ROLE_VARS_kafka_forwarder="KAFKA_BROKERS KAFKA_TOPICS KAFKA_GROUP KAFKA_OUTPUT_BROKERS"

# Variables that hold exactly one value (a list would reach a plugin as one bad name).
readonly SINGLE_VALUE_VARS="ES_HOSTS KAFKA_TOPICS"

# Every variable this script or the role pipelines read; set but empty means unset, so the
# pipelines' ${VAR:default} defaults apply instead of an empty string.
readonly KNOWN_VARS="SLUICE_ROLE SLUICE_CONFIG SLUICE_CONFIG_DIR SLUICE_SETTINGS SLUICE_PATH_DATA
  SLUICE_WORKERS HTTP_HOST HTTP_PORT SHUTDOWN_TIMEOUT FILTERS_REPO FILTERS_REF FILTERS_PATH
  FILTERS_POLL_INTERVAL STATSD_HOST STATSD_PORT STATSD_PREFIX STATSD_TAGS STATSD_FLUSH_INTERVAL
  ES_HOSTS ES_INDEX_PREFIX KAFKA_BROKERS KAFKA_TOPICS KAFKA_GROUP KAFKA_CLIENT_ID KAFKA_THREADS
  KAFKA_OUTPUT_BROKERS KAFKA_OUTPUT_TOPIC_PREFIX KAFKA_OUTPUT_COMPRESSION SYSLOG_PORT
  DOCKER_CONTAINERS_DIR MESOS_WORK_DIR LOGS_START_POSITION"

die() {
  echo "sluice-entrypoint: $*" >&2
  exit 64
}

unset_empty_vars() {
  local name
  for name in $KNOWN_VARS; do
    if [[ -z "${!name-}" ]]; then
      unset "$name"
    fi
  done
}

# The pipeline file or folder to run, from SLUICE_CONFIG or SLUICE_ROLE.
pipeline_path() {
  if [[ -n "${SLUICE_CONFIG-}" ]]; then
    [[ -e "$SLUICE_CONFIG" ]] || die "SLUICE_CONFIG: $SLUICE_CONFIG does not exist"
    printf '%s\n' "$SLUICE_CONFIG"
    return
  fi
  [[ -n "${SLUICE_ROLE-}" ]] || die "set SLUICE_ROLE (the role pipeline to run) or SLUICE_CONFIG"
  [[ "$SLUICE_ROLE" =~ ^[a-z0-9][a-z0-9_-]*$ ]] || die "SLUICE_ROLE: not a role name: $SLUICE_ROLE"
  local dir="${SLUICE_CONFIG_DIR:-/usr/share/sluice/configs}"
  local file="$dir/$SLUICE_ROLE.conf"
  [[ -f "$file" ]] || die "SLUICE_ROLE: no pipeline $file (roles: $(roles_in "$dir"))"
  printf '%s\n' "$file"
}

roles_in() {
  local f names=()
  for f in "$1"/*.conf; do
    [[ -e "$f" ]] && names+=("$(basename "$f" .conf)")
  done
  echo "${names[*]:-none}"
}

# A role's essential variables must be set: the pipelines' defaults point at localhost, which
# in a container only turns a missing setting into an endless connection retry.
check_role_vars() {
  [[ -n "${SLUICE_ROLE-}" && -z "${SLUICE_CONFIG-}" ]] || return 0
  [[ "${SLUICE_REQUIRE_ENV:-true}" != "false" ]] || return 0
  local table="ROLE_VARS_${SLUICE_ROLE//-/_}" name missing=()
  for name in ${!table-}; do
    [[ -n "${!name-}" ]] || missing+=("$name")
  done
  ((${#missing[@]} == 0)) || die "role $SLUICE_ROLE needs ${missing[*]} (SLUICE_REQUIRE_ENV=false skips this check)"
}

check_single_values() {
  local name
  for name in $SINGLE_VALUE_VARS; do
    if [[ "${!name-}" =~ [,[:space:]] ]]; then
      die "$name holds a list (\"${!name}\"); give one value: one Elasticsearch URL (a load balancer or coordinating node), one Kafka topic per app"
    fi
  done
}

# A TOML basic string holding $1.
toml_string() {
  local s="$1"
  [[ "$s" != *[[:cntrl:]]* ]] || die "control characters are not allowed in settings values"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '"%s"' "$s"
}

# Settings without a flag (metrics.statsd.*), one TOML line each, dotted keys at the root.
statsd_settings() {
  if [[ -n "${STATSD_HOST-}" ]]; then
    echo "metrics.statsd.host = $(toml_string "$STATSD_HOST")"
  fi
  if [[ -n "${STATSD_PORT-}" ]]; then
    [[ "$STATSD_PORT" =~ ^[0-9]{1,5}$ ]] && ((10#$STATSD_PORT >= 1 && 10#$STATSD_PORT <= 65535)) ||
      die "STATSD_PORT: not a port: $STATSD_PORT"
    echo "metrics.statsd.port = $((10#$STATSD_PORT))"
  fi
  if [[ -n "${STATSD_PREFIX-}" ]]; then
    echo "metrics.statsd.prefix = $(toml_string "$STATSD_PREFIX")"
  fi
  if [[ -n "${STATSD_TAGS-}" ]]; then
    [[ "$STATSD_TAGS" == true || "$STATSD_TAGS" == false ]] ||
      die "STATSD_TAGS: true or false, not $STATSD_TAGS"
    echo "metrics.statsd.tags = $STATSD_TAGS"
  fi
  if [[ -n "${STATSD_FLUSH_INTERVAL-}" ]]; then
    echo "metrics.statsd.flush_interval = $(toml_string "$STATSD_FLUSH_INTERVAL")"
  fi
}

# The settings file to pass: the base file as it is, or, when the environment sets statsd, a
# file of the statsd lines followed by the base file. Root-level dotted keys come first because
# everything after a [table] header belongs to that table. A base file that sets metrics itself
# would collide with them (TOML refuses a key or table defined twice), so that is refused here
# with a clearer message than the parser's.
settings_file() {
  local base="${SLUICE_SETTINGS-}" generated
  generated="$(statsd_settings)" || exit
  if [[ -n "$base" && ! -f "$base" ]]; then
    die "SLUICE_SETTINGS: $base does not exist"
  fi
  if [[ -z "$generated" ]]; then
    [[ -z "$base" ]] || printf '%s\n' "$base"
    return
  fi
  if [[ -n "$base" ]] && grep -Eq '^[[:space:]]*(\[+[[:space:]]*"?metrics|"?metrics"?[[:space:]]*[.=])' "$base"; then
    die "STATSD_* is set and $base configures metrics too; set statsd in one place only"
  fi
  local file
  file="$(mktemp "${TMPDIR:-/tmp}/sluice-settings.XXXXXX")"
  {
    echo "# Written by sluice-entrypoint from STATSD_* at $(date -u +%Y-%m-%dT%H:%M:%SZ)."
    printf '%s\n' "$generated"
    if [[ -n "$base" ]]; then
      echo
      echo "# From $base:"
      cat "$base"
    fi
  } >"$file"
  printf '%s\n' "$file"
}

main() {
  local sluice="${SLUICE_BIN:-sluice}"
  if (($# > 0)) && [[ "$1" != -* ]]; then
    case "$1" in
      run | check | test | demo | sandbox | kafka | help) exec "$sluice" "$@" ;;
      *) exec "$@" ;;
    esac
  fi

  unset_empty_vars
  check_single_values
  local pipeline settings
  pipeline="$(pipeline_path)" || exit
  check_role_vars
  settings="$(settings_file)" || exit

  local args=(run --path.config "$pipeline")
  [[ -z "$settings" ]] || args+=(--settings "$settings")
  [[ -z "${SLUICE_PATH_DATA-}" ]] || args+=(--path.data "$SLUICE_PATH_DATA")
  [[ -z "${SLUICE_WORKERS-}" ]] || args+=(--pipeline.workers "$SLUICE_WORKERS")
  [[ -z "${HTTP_HOST-}" ]] || args+=(--http.host "$HTTP_HOST")
  [[ -z "${HTTP_PORT-}" ]] || args+=(--http.port "$HTTP_PORT")
  [[ -z "${SHUTDOWN_TIMEOUT-}" ]] || args+=(--shutdown.timeout "$SHUTDOWN_TIMEOUT")
  [[ -z "${FILTERS_REPO-}" ]] || args+=(--filters.repo "$FILTERS_REPO")
  [[ -z "${FILTERS_REF-}" ]] || args+=(--filters.ref "$FILTERS_REF")
  [[ -z "${FILTERS_PATH-}" ]] || args+=(--filters.path "$FILTERS_PATH")
  [[ -z "${FILTERS_POLL_INTERVAL-}" ]] || args+=(--filters.poll_interval "$FILTERS_POLL_INTERVAL")

  exec "$sluice" "${args[@]}" "$@"
}

main "$@"
