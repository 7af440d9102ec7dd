#!/usr/bin/env bash
# A one-node Slurm on 127.0.0.1 from Debian's packages, for the executor tests and for trying
# `[executor] kind = "slurm"` on one machine.
#
#   bash scripts/slurm-local.sh start    install if missing, configure, start munged/slurmctld/slurmd
#   bash scripts/slurm-local.sh stop     cancel every job, wait for them to end, stop the daemons
#   bash scripts/slurm-local.sh status   sinfo and squeue
#
# Needs root and no systemd (it starts the daemons itself). It writes /etc/slurm/slurm.conf and
# cgroup.conf only when they are absent or were written by this script, so it never replaces a
# real cluster's configuration.
set -euo pipefail

MARK="# written by asi-evolve scripts/slurm-local.sh"
CONF=/etc/slurm/slurm.conf
CGROUP_CONF=/etc/slurm/cgroup.conf
LOG_DIR=/var/log/slurm

die() { echo "slurm-local: $*" >&2; exit 1; }

ours() { [ ! -e "$1" ] || head -n1 "$1" | grep -qxF "$MARK"; }

install_packages() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
        && command -v munged >/dev/null && return
    echo "slurm-local: installing slurmctld slurmd slurm-client munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null 2>&1 || {
        apt-get update >/dev/null
        apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
    }
}

write_config() {
    ours "$CONF" || die "$CONF exists and was not written by this script; refusing to replace it"
    ours "$CGROUP_CONF" || die "$CGROUP_CONF exists and was not written by this script; refusing to replace it"
    local host node
    host=$(hostname -s)
    # First line of `slurmd -C`: NodeName=<host> CPUs=… RealMemory=…
    node=$(slurmd -C | head -n1)
    case "$node" in NodeName=*) ;; *) die "unexpected \`slurmd -C\` output: $node" ;; esac
    local cpus memory
    cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
    memory=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
    [ -n "$cpus" ] && [ -n "$memory" ] || die "no CPUs or RealMemory in \`slurmd -C\` output: $node"
    mkdir -p /etc/slurm "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd
    chown root:root /var/spool/slurmctld /var/spool/slurmd
    cat >"$CGROUP_CONF" <<EOF
$MARK
# slurmd 22.05 always loads a cgroup plugin; v1 together with proctrack/linuxproc and
# task/none starts in containers without a writable cgroup hierarchy.
CgroupPlugin=cgroup/v1
EOF
    cat >"$CONF" <<EOF
$MARK
ClusterName=asi-evolve-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# A job without --mem gets one CPU's share of the memory, so memory never limits how many run.
DefMemPerCPU=$((memory / cpus))
# Start a submitted job at once (about 1 s instead of 3 s).
SchedulerParameters=batch_sched_delay=0
# A request the partition can never satisfy is an error at sbatch, not a job pending forever.
EnforcePartLimits=ALL
# Finished jobs stay visible to squeue -t all and scontrol for an hour.
MinJobAge=3600
# A cancelled job's processes get SIGKILL 2 s after SIGTERM.
KillWait=2
# The job's memory (--mem) is enforced by sampling its processes' RSS every second.
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG_DIR/jobcomp.log
ReturnToService=2
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
    [ "$(id -u)" = 0 ] || die "must run as root"
    install_packages
    write_config
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    if ! running /run/munge/munged.pid; then
        runuser -u munge -- /usr/sbin/munged
    fi
    running /run/slurmctld.pid || slurmctld
    running /run/slurmd.pid || slurmd
    local state=""
    for _ in $(seq 1 60); do
        state=$(sinfo -h -N -o %T 2>/dev/null | head -n1 || true)
        case "$state" in
            idle | mixed | allocated) echo "slurm-local: node $(hostname -s) is $state"; return 0 ;;
            down* | drain*) scontrol update NodeName="$(hostname -s)" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        sleep 0.5
    done
    die "the node did not become idle (state: ${state:-no answer}); see $LOG_DIR/slurmctld.log and slurmd.log"
}

stop_daemon() {
    local pidfile=$1
    running "$pidfile" || return 0
    local pid
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
}

stop() {
    # Stopping slurmd does not kill running jobs: cancel them first and wait until they end.
    if running /run/slurmctld.pid; then
        scancel --full --quiet --state=PENDING,RUNNING,SUSPENDED 2>/dev/null || true
        squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null || true
        for _ in $(seq 1 50); do
            [ -z "$(squeue -h -t PENDING,RUNNING,SUSPENDED,COMPLETING -o %i 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
    stop_daemon /run/slurmd.pid
    stop_daemon /run/slurmctld.pid
    stop_daemon /run/munge/munged.pid
    echo "slurm-local: stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) sinfo; squeue ;;
    *) die "usage: $0 start|stop|status" ;;
esac
