#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for tests and demos of the SLURM profile.
#
#   scripts/slurm_cluster.sh start    # install (Debian packages) if needed, configure, start
#   scripts/slurm_cluster.sh status   # exit 0 when the node is up and idle/mixed/allocated
#   scripts/slurm_cluster.sh stop     # stop the daemons (by PID file), remove our slurm.conf
#
# Needs root and apt-get (Debian/Ubuntu); runs without systemd. Idempotent: `start` on a
# running cluster only checks it, `stop` on a stopped one does nothing. The cluster has no
# job accounting, so Snakemake needs `--slurm-status-command squeue` (profiles/slurm-test).
# Exit status 3: SLURM is not installed and cannot be installed here (no root/apt-get).
# Environment: SLURM_PARTITION (default debug), SLURM_CLUSTER_NAME (default dreemtest).
set -euo pipefail

PARTITION="${SLURM_PARTITION:-debug}"
CLUSTER="${SLURM_CLUSTER_NAME:-dreemtest}"
CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid
LOG_DIR=/var/log/slurm

die() { echo "slurm_cluster: $*" >&2; exit 1; }
log() { echo "slurm_cluster: $*" >&2; }

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null; then
        return
    fi
    [[ $EUID -eq 0 ]] || { log "installing SLURM needs root"; exit 3; }
    command -v apt-get >/dev/null || { log "apt-get not found (Debian/Ubuntu only)"; exit 3; }
    log "installing slurmctld slurmd slurm-client munge (apt-get)"
    if ! { apt-get update -qq >/dev/null \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            slurmctld slurmd slurm-client munge >/dev/null; }; then
        log "apt-get could not install the SLURM packages"
        exit 3
    fi
}

write_conf() {
    local host cpus mem_kb mem_mb
    host="$(hostname -s)"
    cpus="$(nproc)"
    mem_kb="$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
    mem_mb=$(( mem_kb * 85 / 100 / 1024 ))   # leave 15 % to the OS and the controller
    mkdir -p "$CONF_DIR" /var/spool/slurmctld /var/spool/slurmd "$LOG_DIR"
    cat >"$CONF" <<EOF
# Written by scripts/slurm_cluster.sh: one node, no accounting, no cgroups.
ClusterName=$CLUSTER
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
MailProg=/bin/true
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    if alive "$MUNGE_PID"; then return; fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        if command -v mungekey >/dev/null; then
            mungekey --create --force >/dev/null 2>&1 || true
        fi
        [[ -s /etc/munge/munge.key ]] \
            || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do alive "$MUNGE_PID" && return; sleep 0.1; done
    die "munged did not start"
}

node_ready() {
    local state
    state="$(sinfo -h -o '%T' -p "$PARTITION" 2>/dev/null | head -n1)"
    [[ "$state" =~ ^(idle|mixed|allocated|completing) ]]
}

cmd_start() {
    [[ $EUID -eq 0 ]] || { log "start needs root"; exit 3; }
    install_packages
    if alive "$CTLD_PID" && alive "$SLURMD_PID" && node_ready; then
        log "already running"
        return
    fi
    cmd_stop >/dev/null 2>&1 || true
    write_conf
    start_munge
    # A state folder from another cluster name makes slurmctld exit (CLUSTER NAME MISMATCH).
    rm -rf /var/spool/slurmctld/* /var/spool/slurmd/*
    /usr/sbin/slurmctld -i
    /usr/sbin/slurmd
    for _ in $(seq 100); do
        if node_ready; then
            log "up: $(sinfo -h -o '%P %a %D %T %N' | head -n1)"
            return
        fi
        sleep 0.2
    done
    tail -n 20 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 || true
    die "the node did not become ready within 20 s"
}

stop_pidfile() {
    local pidfile="$1" pid
    alive "$pidfile" || { rm -f "$pidfile"; return; }
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

cmd_stop() {
    stop_pidfile "$SLURMD_PID"
    stop_pidfile "$CTLD_PID"
    stop_pidfile "$MUNGE_PID"
    # With a slurm.conf but no controller, every `scontrol` (which the Snakemake SLURM
    # plugin runs at import, i.e. in every `snakemake` call) hangs ~10 s: remove ours.
    if [[ -f "$CONF" ]] && grep -q "^# Written by scripts/slurm_cluster.sh" "$CONF"; then
        rm -f "$CONF"
    fi
    log "stopped"
}

cmd_status() {
    if alive "$CTLD_PID" && alive "$SLURMD_PID" && node_ready; then
        sinfo -h -o '%P %a %D %T %N'
        return 0
    fi
    echo "not running"
    return 1
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) die "usage: $0 start|stop|status" ;;
esac
