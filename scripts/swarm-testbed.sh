#!/usr/bin/env bash
# A two-node Docker Swarm on one machine, for msting's Swarm integration tests. Run as root, with
# the main engine up (scripts/ensure-docker.sh) and the packages of `prepare` installed.
# Documented in test/integration/swarm/README.md.
#
#   scripts/swarm-testbed.sh prepare       install what the bed needs (docker-registry, iproute2, curl)
#   scripts/swarm-testbed.sh up            make the bed (safe to run again), then print its variables
#   scripts/swarm-testbed.sh env           print the variables of a bed that is up
#   scripts/swarm-testbed.sh status        one line per part: up or down
#   scripts/swarm-testbed.sh stop-worker   SIGTERM the worker engine and wait for it to exit
#   scripts/swarm-testbed.sh start-worker  start it again; it rejoins the swarm by itself
#   scripts/swarm-testbed.sh down          remove everything `up` made (safe to run again)
#
# `up` and `env` print shell-evaluable lines, and nothing else, on stdout (progress goes to stderr):
#
#   TESTBED_WORKER_HOST=unix:///run/msting-tb/docker.sock   DOCKER_HOST of the worker engine
#   TESTBED_REGISTRY=127.0.0.1:5213      one registry, the same reference on both nodes
#   TESTBED_MANAGER_NODE=<node id>       the main engine, swarm manager, advertised on 10.213.0.1
#   TESTBED_WORKER_NODE=<node id>        the second engine, worker, node label sting.gpu=true
#   TESTBED_MANAGER_ADDR=10.213.0.1
#   TESTBED_WORKER_ADDR=10.213.0.2
#
# The parts:
#   - network namespace msting-tb, veth pair msting-tb0 (host, 10.213.0.1/24) and msting-tb1
#     (namespace, 10.213.0.2/24, default route via the host side);
#   - a second dockerd inside it, started with `nsenter --net=` (`ip netns exec` remounts /sys and
#     hides the cgroup mounts dockerd needs); own data root /var/lib/msting-tb/docker, exec root,
#     socket and pid file under /run/msting-tb, its own containerd (spawned by that dockerd, socket
#     under its exec root), cgroup parent msting-tb; log /var/log/msting-tb-dockerd.log;
#   - the main engine becomes the swarm's manager (`swarm init --advertise-addr 10.213.0.1`), the
#     second engine joins as worker and is labelled sting.gpu=true; dispatcher heartbeat 2 s, so a
#     stopped worker shows as down within about 6 s; TESTBED_REGISTRY_PORT moves the registry;
#   - a local registry (Debian's docker-registry) on 127.0.0.1:5213 on the host and a second,
#     read-only instance of it on 127.0.0.1:5213 inside the namespace, on the same storage
#     directory. Both engines treat 127.0.0.0/8 as insecure by default, so one image reference,
#     127.0.0.1:5213/NAME:TAG, pulls on both nodes without touching the main engine's settings.
#     Push from the main engine. Log /var/log/msting-tb-registry.log.
#
# Limits of this kernel class (no CONFIG_IP_VS): the swarm's virtual-IP load balancing and the
# ingress routing mesh need IPVS, so services that talk to each other use
# `--endpoint-mode dnsrr` and published ports use `mode=host`. Overlay networks (VXLAN) work.
#
# `down` leaves the main engine as scripts/ensure-docker.sh left it: no swarm, no docker_gwbridge.
# Exit status: 0 done, 1 failed (the message names the log to read), 2 usage.
set -euo pipefail

NS=msting-tb
HOST_IF=msting-tb0
NS_IF=msting-tb1
HOST_ADDR=10.213.0.1
NS_ADDR=10.213.0.2
NET_PREFIX=24
# The main engine's docker_gwbridge, made before `swarm init` so that it takes this subnet and not
# one of the default pools that compose projects on the same engine draw from.
GWBRIDGE_SUBNET=10.213.1.0/24
# Overlay networks of the swarm (ingress included) are carved from this pool.
ADDR_POOL=10.214.0.0/16
# Workers report every HEARTBEAT; a node is down after three missed ones (6 s here, not the
# default 15 s), which is what tests of lost tasks wait for.
HEARTBEAT=2s
REGISTRY_PORT="${TESTBED_REGISTRY_PORT:-5213}"
REGISTRY="127.0.0.1:$REGISTRY_PORT"
RUN_DIR=/run/msting-tb
DATA_DIR=/var/lib/msting-tb
WORKER_SOCK="$RUN_DIR/docker.sock"
WORKER_HOST="unix://$WORKER_SOCK"
WORKER_PID="$RUN_DIR/docker.pid"
WORKER_LOG=/var/log/msting-tb-dockerd.log
REGISTRY_LOG=/var/log/msting-tb-registry.log
LABEL=sting.gpu=true

log() { echo "swarm-testbed: $*" >&2; }
die() { log "$*"; exit 1; }
quiet() { "$@" >/dev/null 2>&1; }
wdocker() { docker -H "$WORKER_HOST" "$@"; }
in_ns() { nsenter --net="/var/run/netns/$NS" "$@"; }

# Poll a command until it succeeds or the deadline (seconds) passes.
wait_for() {
  local seconds="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || { log "timed out after ${seconds}s waiting for $what"; return 1; }
    sleep 0.2
  done
}

# Start a daemon in the background, detached from the caller's session, with only stdin, stdout
# and stderr: a descriptor it inherited (the lock file of `flock FILE scripts/swarm-testbed.sh up`,
# a test runner's pipe) would otherwise stay open, and the lock held, for as long as it runs.
# Its pid is $!: setsid and nsenter exec what they run.
spawn() { # <log file> <command...>
  local out="$1"
  shift
  (
    for fd in $(ls "/proc/$BASHPID/fd"); do
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    exec setsid "$@"
  ) >>"$out" 2>&1 </dev/null &
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# SIGTERM the processes in the pid files, wait for them to exit, SIGKILL after the deadline.
stop_pids() { # <seconds> <pid file>...
  local seconds="$1" file pid pids=() deadline
  shift
  for file in "$@"; do
    [ -f "$file" ] || continue
    pid="$(cat "$file")"
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null && pids+=("$pid"); fi
  done
  deadline=$((SECONDS + seconds))
  for pid in ${pids[@]+"${pids[@]}"}; do
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid still running after ${seconds}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
  done
  rm -f "$@"
}

# ---- network namespace and veth pair

net_up() {
  [ -e "/var/run/netns/$NS" ] || ip netns add "$NS"
  if ! quiet ip link show "$HOST_IF"; then
    ip link add "$HOST_IF" type veth peer name "$NS_IF" netns "$NS"
  fi
  ip addr replace "$HOST_ADDR/$NET_PREFIX" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  ip -n "$NS" addr replace "$NS_ADDR/$NET_PREFIX" dev "$NS_IF"
  ip -n "$NS" link set lo up
  ip -n "$NS" link set "$NS_IF" up
  ip -n "$NS" route replace default via "$HOST_ADDR"
}

net_down() {
  if [ -e "/var/run/netns/$NS" ]; then ip netns del "$NS"; fi
  # Deleting the namespace deletes the peer inside it and, a moment later, the host end; this is
  # for a half-made pair, and it may race with the kernel doing the same.
  if quiet ip link show "$HOST_IF"; then ip link del "$HOST_IF" 2>/dev/null || true; fi
  wait_for 10 "$HOST_IF to go" bash -c "! ip link show $HOST_IF" || die "$HOST_IF is still there"
}

# ---- the worker engine

# The engines' /_ping through curl: a tenth of what `docker info` takes.
ping_engine() { [ "$(curl -fsS --max-time 5 --unix-socket "$1" http://localhost/_ping 2>/dev/null)" = OK ]; }
main_up() { ping_engine /var/run/docker.sock; }
worker_up() { pid_alive "$WORKER_PID" && ping_engine "$WORKER_SOCK"; }

worker_start() {
  [ -e "/var/run/netns/$NS" ] || die "no network namespace $NS: run up"
  if worker_up; then return 0; fi
  mkdir -p "$RUN_DIR/exec" "$DATA_DIR/docker"
  log "starting the worker engine (log: $WORKER_LOG)"
  spawn "$WORKER_LOG" nsenter --net="/var/run/netns/$NS" dockerd \
    --data-root "$DATA_DIR/docker" \
    --exec-root "$RUN_DIR/exec" \
    --pidfile "$WORKER_PID" \
    -H "$WORKER_HOST" \
    --cgroup-parent "$NS"
  wait_for 60 "the worker engine to answer on $WORKER_SOCK" worker_up ||
    die "the worker engine did not start; see $WORKER_LOG"
}

worker_stop() {
  pid_alive "$WORKER_PID" || { rm -f "$WORKER_PID"; return 0; }
  log "stopping the worker engine"
  # dockerd stops its containers (up to their stop timeout) and its containerd before it exits.
  stop_pids 60 "$WORKER_PID"
}

# Processes the worker's containerd left behind (shims of containers that were still running).
kill_worker_leftovers() {
  local pid
  for pid in $(pgrep -f "$RUN_DIR/exec/containerd" 2>/dev/null || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
}

# ---- registry: one storage, an instance on each side

registry_config() { # <read-only: true|false>
  cat <<EOF
version: 0.1
log:
  level: warn
  fields:
    service: msting-tb-registry
storage:
  filesystem:
    rootdirectory: $DATA_DIR/registry
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
    readonly:
      enabled: $1
http:
  addr: $REGISTRY
  secret: msting-tb-registry-shared-secret
EOF
}

registry_answers() { curl -fsS --max-time 2 "http://$REGISTRY/v2/" >/dev/null; }
registry_answers_in_ns() { in_ns curl -fsS --max-time 2 "http://$REGISTRY/v2/" >/dev/null; }

registry_start() {
  command -v docker-registry >/dev/null || die "docker-registry is not installed (apt-get install docker-registry)"
  mkdir -p "$DATA_DIR/registry" "$RUN_DIR"
  registry_config false >"$RUN_DIR/registry-host.yml"
  registry_config true >"$RUN_DIR/registry-ns.yml"
  if ! pid_alive "$RUN_DIR/registry-host.pid"; then
    spawn "$REGISTRY_LOG" docker-registry serve "$RUN_DIR/registry-host.yml"
    echo $! >"$RUN_DIR/registry-host.pid"
  fi
  if ! pid_alive "$RUN_DIR/registry-ns.pid"; then
    spawn "$REGISTRY_LOG" nsenter --net="/var/run/netns/$NS" docker-registry serve "$RUN_DIR/registry-ns.yml"
    echo $! >"$RUN_DIR/registry-ns.pid"
  fi
  wait_for 20 "the registry on $REGISTRY" registry_answers || die "the registry did not start; see $REGISTRY_LOG"
  wait_for 20 "the registry on $REGISTRY in $NS" registry_answers_in_ns || die "the registry in $NS did not start; see $REGISTRY_LOG"
}

registry_stop() {
  stop_pids 10 "$RUN_DIR/registry-ns.pid" "$RUN_DIR/registry-host.pid"
}

# ---- swarm

# One `docker info` (about a second each with the CLI plugins): "<state> <node address> <manager?>
# <node id>" of the engine the given command talks to; "unknown" when it does not answer.
swarm_info() {
  "$@" info --format '{{.Swarm.LocalNodeState}} {{.Swarm.NodeAddr}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeID}}' 2>/dev/null || echo unknown
}

node_ready() { [ "$(docker node inspect "$1" --format '{{.Status.State}}' 2>/dev/null)" = ready ]; }

# Leaves MANAGER_NODE and WORKER_NODE set.
swarm_up() {
  local state addr control
  read -r state addr control MANAGER_NODE <<<"$(swarm_info docker)"
  case "$state" in
    inactive)
      if ! quiet docker network inspect docker_gwbridge; then
        docker network create --subnet "$GWBRIDGE_SUBNET" \
          --opt com.docker.network.bridge.name=docker_gwbridge \
          --opt com.docker.network.bridge.enable_icc=false \
          --opt com.docker.network.bridge.enable_ip_masquerade=true \
          docker_gwbridge >/dev/null
      fi
      log "swarm init on the main engine, advertised on $HOST_ADDR"
      docker swarm init --advertise-addr "$HOST_ADDR" --listen-addr "$HOST_ADDR:2377" \
        --default-addr-pool "$ADDR_POOL" --default-addr-pool-mask-length 24 \
        --dispatcher-heartbeat "$HEARTBEAT" >/dev/null
      read -r state addr control MANAGER_NODE <<<"$(swarm_info docker)"
      ;;
    active) [ "$addr" = "$HOST_ADDR" ] || die "the main engine is in a swarm this script did not make (node address $addr); leave it first" ;;
    *) die "the main engine's swarm state is $state; wait, or run down" ;;
  esac
  [ "$control" = true ] || die "the main engine is not a swarm manager"
  read -r state _ _ WORKER_NODE <<<"$(swarm_info wdocker)"
  if [ "$state" != active ]; then
    log "joining the worker engine"
    wdocker swarm join --token "$(docker swarm join-token -q worker)" \
      --advertise-addr "$NS_ADDR" --listen-addr "$NS_ADDR:2377" "$HOST_ADDR:2377" >/dev/null
    read -r state _ _ WORKER_NODE <<<"$(swarm_info wdocker)"
  fi
  wait_for 60 "node $WORKER_NODE to be ready" node_ready "$WORKER_NODE" || die "the worker node is not ready; see $WORKER_LOG"
  docker node update --label-add "$LABEL" "$WORKER_NODE" >/dev/null
}

swarm_down() {
  local state addr
  # The worker does not leave first: its engine and its state are removed after this.
  read -r state addr _ <<<"$(swarm_info docker)"
  if [ "$state" = active ] && [ "$addr" = "$HOST_ADDR" ]; then
    log "the main engine leaves the swarm"
    docker swarm leave --force >/dev/null
  elif [ "$state" = active ]; then
    log "the main engine is in a swarm this script did not make (node address $addr): left alone"
    return 0
  fi
  # swarm leave keeps docker_gwbridge; the engine had none before.
  if quiet docker network inspect docker_gwbridge; then
    wait_for 20 "docker_gwbridge to be removable" docker network rm docker_gwbridge ||
      log "docker_gwbridge could not be removed: $(docker network inspect docker_gwbridge --format '{{len .Containers}}') endpoints left"
  fi
}

# ---- commands

print_env() {
  echo "TESTBED_WORKER_HOST=$WORKER_HOST"
  echo "TESTBED_REGISTRY=$REGISTRY"
  echo "TESTBED_MANAGER_NODE=$MANAGER_NODE"
  echo "TESTBED_WORKER_NODE=$WORKER_NODE"
  echo "TESTBED_MANAGER_ADDR=$HOST_ADDR"
  echo "TESTBED_WORKER_ADDR=$NS_ADDR"
}

cmd_up() {
  main_up || die "the main engine does not answer (scripts/ensure-docker.sh)"
  mkdir -p "$RUN_DIR"
  net_up
  worker_start
  registry_start
  swarm_up
  print_env
}

cmd_env() {
  worker_up || die "the bed is not up (worker engine down)"
  read -r _ _ _ MANAGER_NODE <<<"$(swarm_info docker)"
  read -r _ _ _ WORKER_NODE <<<"$(swarm_info wdocker)"
  print_env
}

cmd_down() {
  swarm_down
  # Removed before the engine stops, so that it does not wait out each task's stop grace period.
  if worker_up; then
    local ids
    ids="$(wdocker ps -aq)"
    if [ -n "$ids" ]; then wdocker rm -f $ids >/dev/null 2>&1 || true; fi
  fi
  worker_stop
  kill_worker_leftovers
  registry_stop
  # Mounts the worker engine left (overlay layers, namespace files), deepest first.
  local m
  for m in $(awk -v a="$DATA_DIR" -v b="$RUN_DIR" 'index($2, a) == 1 || index($2, b) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  net_down
  rm -rf "$DATA_DIR" "$RUN_DIR"
  log "down"
}

cmd_status() {
  local s state addr
  s=down; [ -e "/var/run/netns/$NS" ] && quiet ip link show "$HOST_IF" && s=up
  echo "network $NS: $s"
  s=down; worker_up && s="up, swarm $(swarm_info wdocker | cut -d' ' -f1)"
  echo "worker engine $WORKER_HOST: $s"
  s=down; pid_alive "$RUN_DIR/registry-host.pid" && registry_answers && s=up
  echo "registry $REGISTRY (host): $s"
  s=down; pid_alive "$RUN_DIR/registry-ns.pid" && registry_answers_in_ns && s=up
  echo "registry $REGISTRY ($NS): $s"
  read -r state addr _ <<<"$(swarm_info docker)"
  s="$state"
  if [ "$state" = active ] && [ "$addr" = "$HOST_ADDR" ]; then
    echo "main engine swarm: active, made by this script"
    docker node ls --format '  {{.ID}} {{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}'
  elif [ "$state" = active ]; then
    echo "main engine swarm: active, not made by this script (node address $addr)"
  else
    echo "main engine swarm: $state"
  fi
}

# Debian packages, installed only when their command is missing. Debian's docker-registry package
# may start its own registry on :5000 where an init system runs; the bed does not use that one.
cmd_prepare() {
  local need=()
  command -v docker-registry >/dev/null || need+=(docker-registry)
  command -v ip >/dev/null || need+=(iproute2)
  command -v curl >/dev/null || need+=(curl)
  command -v nsenter >/dev/null || need+=(util-linux)
  [ "${#need[@]}" -gt 0 ] || return 0
  log "installing ${need[*]}"
  quiet apt-get update -qq
  DEBIAN_FRONTEND=noninteractive quiet apt-get install -y -qq --no-install-recommends "${need[@]}" || die "apt-get install ${need[*]} failed"
}

[ "$(id -u)" -eq 0 ] || die "run as root"
case "${1:-}" in
  prepare) cmd_prepare ;;
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  stop-worker) worker_stop ;;
  start-worker) worker_start ;;
  *) echo "usage: $0 prepare|up|down|env|status|stop-worker|start-worker" >&2; exit 2 ;;
esac
