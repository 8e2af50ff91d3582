#!/usr/bin/env bash
# sd_notify: with NOTIFY_SOCKET and WATCHDOG_USEC set, the daemon sends
# READY=1 once the pool is up, STATUS= lines, WATCHDOG=1 pings from its
# event loop, and STOPPING=1 at SIGTERM.  A socat datagram listener plays
# the service manager.
. "$(dirname "$0")/lib.sh"
command -v socat >/dev/null || die "socat missing"

sock=$T/notify.sock
socat -u "UNIX-RECV:$sock" "OPEN:$T/notify.log,creat,append" &
track_pid $!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.05; done
export NOTIFY_SOCKET=$sock WATCHDOG_USEC=400000
start_daemon
unset NOTIFY_SOCKET WATCHDOG_USEC
gen_clip "$T/a.mp4"
id=$(enqueue "$T/a.mp4" "$T/out")
check "job DONE" wait_sql "SELECT status FROM jobs WHERE id=$id" DONE 20
sleep 1
# Datagrams arrive back to back in the file, not always newline-ended.
check "READY=1 sent" grep -q 'READY=1' "$T/notify.log"
pings=$(grep -o 'WATCHDOG=1' "$T/notify.log" | wc -l)
check "watchdog pinged at least 4 times in ~1.5 s at 0.4 s ($pings)" test "$pings" -ge 4
check "STATUS= reports the finished job" grep -q 'STATUS=.*done 1,' "$T/notify.log"
stop_daemon
check "STOPPING=1 sent" grep -q 'STOPPING=1' "$T/notify.log"
finish
