# shellcheck shell=bash
# The idle check of bench/run.sh (sourced): how busy the CPUs are. The files
# are read from BENCH_PROC (default /proc), so a test can give its own.

# The CPUs busy between two "cpu " lines of /proc/stat, out of CPUS, e.g.
# 0.03: everything but idle and iowait counts as busy, steal included (time
# the hypervisor gave to another machine is time this one did not get).
busy_between() { # before after cpus
    awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {
        split(a, x, " "); split(b, y, " "); total = 0
        for (i = 2; i <= 9; i++) total += y[i] - x[i] # user nice system idle iowait irq softirq steal
        idle = y[5] - x[5] + y[6] - x[6]
        printf "%.2f", (total > 0 ? n * (total - idle) / total : 0) }'
}

# The CPUs busy over the next second.
busy_cpus() { # cpus
    local proc=${BENCH_PROC:-/proc} before after
    before=$(grep '^cpu ' "$proc/stat")
    sleep 1
    after=$(grep '^cpu ' "$proc/stat")
    busy_between "$before" "$after" "$1"
}

# The 1-minute load average.
load_average() {
    cut -d' ' -f1 "${BENCH_PROC:-/proc}/loadavg"
}

# Whether a figure (load or busy CPUs) means another process holds a CPU.
is_busy() { # figure
    awk -v f="$1" 'BEGIN { exit !(f >= 0.5) }'
}
