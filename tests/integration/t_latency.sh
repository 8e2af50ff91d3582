#!/bin/bash
# An idle daemon notices an external INSERT quickly (it aims at ~100 ms;
# the test allows 1 s), starts a job enqueued for later at its time, and
# burns next to no CPU while idle.
. "$(dirname "$0")/lib.sh"
need "$WORKER"

gen_clip "$T/clip.mp4"
start_daemon --worker "$WORKER" --workers 2
sleep 1
hz=$(getconf CLK_TCK)

say "idle CPU"
t0=$(cpu_ticks "$DAEMON_PID")
sleep 3
t1=$(cpu_ticks "$DAEMON_PID")
cpu_ms=$(((t1 - t0) * 1000 / hz))
check "idle daemon used $cpu_ms ms of CPU in 3 s (< 150)" test "$cpu_ms" -lt 150
for w in $(descendants "$DAEMON_PID"); do
    c0=$(cpu_ticks "$w")
    sleep 1
    c1=$(cpu_ticks "$w")
    check "idle process $w (zygote or worker) used $(((c1 - c0) * 1000 / hz)) ms in 1 s (< 50)" \
        test $(((c1 - c0) * 1000 / hz)) -lt 50
done

say "notice latency"
for round in 1 2 3; do
    sleep 0.5
    start=$(date +%s%N)
    id=$(enqueue "$T/clip.mp4" "$T/out.$round")
    while :; do
        st=$(job_field "$id" status)
        now=$(date +%s%N)
        [ "$st" != PENDING ] && break
        [ $(((now - start) / 1000000)) -gt 3000 ] && break
        sleep 0.02
    done
    ms=$(((now - start) / 1000000))
    if [ "$st" != PENDING ] && [ "$ms" -le 1000 ]; then
        ok "round $round: job $id was $st after $ms ms"
    else
        fail "round $round: job $id still $st after $ms ms"
    fi
    check_sql "round $round: job DONE" \
        "SELECT status FROM jobs WHERE id=$id" DONE 10
done

# A job enqueued for later (next_attempt_at on a PENDING row) starts at
# its time, with nothing else to wake the daemon: the INSERT's own
# notice finds it not yet due, and the next look must come from the time.
say "a job enqueued for later"
sleep 3 # the looks that follow the last INSERT are over
due=$(($(date +%s%3N) + 4000))
id=$(enqueue "$T/clip.mp4" "$T/out.later" next_attempt_at "$due")
sleep 1
expect_eq "still PENDING 3 s before its time" "$(job_field "$id" status)" \
    PENDING
check_sql "DONE soon after its time" \
    "SELECT status FROM jobs WHERE id=$id" DONE 10
late=$(($(job_field "$id" started_at) - due))
check "started $late ms after its time (under 500)" test "$late" -lt 500
stop_daemon
finish
