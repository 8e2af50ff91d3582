#!/bin/bash
# A broken install: the worker binary dies as it starts (FS_FAULT_START=die
# in the injector), so the zygote never serves a worker and no worker says
# HELLO.  That is a pool fault, not a job attempt: the daemon stays up,
# backs off instead of spinning, charges no job, never claims one, and
# still stops cleanly on SIGTERM.
. "$(dirname "$0")/lib.sh"
need "$WORKER" "$REPO/build/tests/libfault.so"

gen_clip "$T/clip.mp4"
# A first healthy run creates the schema; the job waits for the next one.
start_daemon --worker "$WORKER" --workers 1
stop_daemon
id=$(enqueue "$T/clip.mp4" "$T/out")
check "job $id enqueued while no daemon runs" test -n "$id"

start_daemon_bg --worker "$(fault_worker FS_FAULT_START=die)" --workers 2
sleep 1
t0=$(cpu_ticks "$DAEMON_PID")
sleep 3
t1=$(cpu_ticks "$DAEMON_PID")
hz=$(getconf CLK_TCK)
cpu_ms=$(((t1 - t0) * 1000 / hz))
# Each start says so on its stderr, which is the daemon's (the zygote's
# own) or relayed as "worker[PID] ..." (a forked worker's).
starts=$(grep -c 'libfault: FS_FAULT_START=die' "$DAEMON_LOG")

check "daemon alive with a broken worker" daemon_alive
check "the worker binary really started and died ($starts starts in ~4 s)" \
    test "$starts" -ge 2
check "respawns are throttled: $starts starts in ~4 s (<= 12)" \
    test "$starts" -le 12
check "no busy loop: $cpu_ms ms of daemon CPU in 3 s (< 500)" \
    test "$cpu_ms" -lt 500
check "never logged ready" test -z "$(grep 'ready workers=' "$DAEMON_LOG")"
expect_eq "the job was never claimed nor charged" \
    "$(q "SELECT status, attempts FROM jobs WHERE id=$id")" "PENDING|0"
expect_eq "no attempts row" "$(q "SELECT count(*) FROM attempts")" 0

kids=$(descendants "$DAEMON_PID")
if stop_daemon 15; then
    ok "SIGTERM stops it with exit 0"
fi
for k in $kids; do
    check "worker $k gone" wait_gone "$k" 2
done
finish
