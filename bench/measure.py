#!/usr/bin/python3
"""Timing and memory helpers for bench/run.sh (standard library only).

  measure.py cmd [--mem FILE] [--out FILE] -- CMD...
      Runs CMD, prints "wall=S cpu=S rc=N" (to FILE with --out; CPU =
      user+sys of CMD and every descendant it waited for, from
      getrusage(RUSAGE_CHILDREN)).
  measure.py daemon DB SQLFILE N DAEMONPID [--mem FILE]
      The clock starts, `sqlite3 -cmd '.timeout 5000' DB < SQLFILE` runs
      (the INSERTs, one transaction), then the jobs table is polled every
      50 ms until N jobs are DONE or FAILED; the clock stops at the last
      finished_at (the daemon's wall clock in ms, as the start's).  Prints
      "wall=S cpu=S", CPU being the utime+stime (+ reaped children) of the
      daemon and its workers over the window, from /proc/PID/stat.
  measure.py tslog OUT
      Copies stdin to OUT, each line prefixed with the Unix time in ms
      (three decimals) at which it was read: the daemon logs no times.
  measure.py rate DB DAEMONPID WARMUP SECONDS [--mem FILE]
      After WARMUP s, counts jobs that become DONE in the next SECONDS s:
      prints "jobs_per_s=N cpu=S" (a job is two state transitions:
      PENDING -> RUNNING at the claim, RUNNING -> DONE at the result).
  measure.py notice DB DAEMONPID COUNT INPUT OUTDIR
      Idle CPU of the daemon and its workers over 5 s, then COUNT single
      INSERTs through the sqlite3 CLI, 0.2-0.5 s apart: per job
      started_at - created_at (ms; created_at is taken inside the INSERT,
      started_at at the daemon's claim).  Prints "idle_cpu_pct=X" and
      "notice_ms=a,b,c...".

--mem FILE samples /proc/PID/smaps_rollup of the process tree (the command
or the daemon, plus all descendants) every 0.1 s and writes
"peak_pss_kib=N mean_pss_kib=N peak_root_rss_kib=N peak_procs=N samples=N
unreadable=N" to FILE.
"""
import os
import resource
import sqlite3
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def children(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


def tree(root):
    pids, todo = [], [root]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo.extend(children(p))
    return pids


def rollup(pid):
    """(Pss, Rss) in KiB, or None when gone or unreadable."""
    pss = rss = None
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        return None
    if pss is None or rss is None:
        return None
    return pss, rss


class MemSampler(threading.Thread):
    def __init__(self, root, out, interval=0.1):
        super().__init__(daemon=True)
        self.root, self.out, self.interval = root, out, interval
        self.stop = threading.Event()
        self.peak = self.total = self.n = self.root_rss = 0
        self.procs = self.unreadable = 0

    def run(self):
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)

    def sample(self):
        pids = tree(self.root)
        s = 0
        for p in pids:
            r = rollup(p)
            if r is None:
                if os.path.exists(f"/proc/{p}"):
                    self.unreadable += 1
                continue
            s += r[0]
            if p == self.root:
                self.root_rss = max(self.root_rss, r[1])
        if s == 0:
            return
        self.peak = max(self.peak, s)
        self.procs = max(self.procs, len(pids))
        self.total += s
        self.n += 1

    def finish(self):
        self.stop.set()
        self.join()
        mean = self.total // self.n if self.n else 0
        with open(self.out, "w") as f:
            f.write(f"peak_pss_kib={self.peak} mean_pss_kib={mean} "
                    f"peak_root_rss_kib={self.root_rss} "
                    f"peak_procs={self.procs} samples={self.n} "
                    f"unreadable={self.unreadable}\n")


def opt(args, name):
    """Removes "NAME VALUE" from args (before any "--"); returns VALUE."""
    end = args.index("--") if "--" in args else len(args)
    if name in args[:end]:
        i = args.index(name)
        path = args[i + 1]
        del args[i:i + 2]
        return path
    return None


def opt_mem(args):
    return opt(args, "--mem")


def report(args_out, text):
    if args_out:
        with open(args_out, "w") as f:
            f.write(text + "\n")
    else:
        print(text, flush=True)


def cmd(args):
    mem = opt_mem(args)
    out = opt(args, "--out")
    if args[:1] == ["--"]:
        args = args[1:]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.Popen(args)
    sampler = None
    if mem:
        sampler = MemSampler(p.pid, mem)
        sampler.start()
    rc = p.wait()
    t1 = time.monotonic()
    if sampler:
        sampler.finish()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    report(out, f"wall={t1 - t0:.4f} cpu={cpu:.3f} rc={rc}")
    return 0


def tree_cpu(root):
    total = 0
    for p in tree(root):
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        # fields[0] is state (stat field 3): utime is field 14 -> index 11
        total += sum(int(x) for x in fields[11:15])
    return total / TICK


def daemon(args):
    mem = opt_mem(args)
    db, sqlfile, n, pid = args[0], args[1], int(args[2]), int(args[3])
    conn = sqlite3.connect(db, timeout=5)
    sampler = None
    if mem:
        sampler = MemSampler(pid, mem)
    deadline = time.monotonic() + 1800
    c0 = tree_cpu(pid)
    t0 = time.time()
    if sampler:
        sampler.start()
    with open(sqlfile) as f:
        subprocess.run(["sqlite3", "-cmd", ".timeout 5000", db], stdin=f,
                       check=True)
    # The poller shares the two cores with what it measures: polled every
    # 5 ms it took 22 ms of CPU in a 0.9 s run and woke 180 times, so it
    # polls seldom and the rows say when the last job ended.
    q = "SELECT count(*) FROM jobs WHERE status IN ('DONE', 'FAILED')"
    while conn.execute(q).fetchone()[0] < n:
        if time.monotonic() > deadline:
            sys.exit("measure: jobs still not terminal after 30 min")
        time.sleep(0.05)
    c1 = tree_cpu(pid)
    if sampler:
        sampler.finish()
    last_ms = conn.execute("SELECT max(finished_at) FROM jobs").fetchone()[0]
    print(f"wall={last_ms / 1000.0 - t0:.4f} cpu={c1 - c0:.3f}")
    return 0


def rate(args):
    mem = opt_mem(args)
    db, pid, warm, secs = args[0], int(args[1]), float(args[2]), float(args[3])
    conn = sqlite3.connect(db, timeout=5)
    q = "SELECT count(*) FROM jobs WHERE status = 'DONE'"
    time.sleep(warm)
    sampler = MemSampler(pid, mem) if mem else None
    if sampler:
        sampler.start()
    c0, t0, n0 = tree_cpu(pid), time.monotonic(), conn.execute(q).fetchone()[0]
    time.sleep(secs)
    c1, t1, n1 = tree_cpu(pid), time.monotonic(), conn.execute(q).fetchone()[0]
    if sampler:
        sampler.finish()
    print(f"jobs_per_s={(n1 - n0) / (t1 - t0):.1f} cpu={c1 - c0:.3f} "
          f"done={n1}")
    return 0


def notice(args):
    import random
    db, pid, count, inp, outdir = (args[0], int(args[1]), int(args[2]),
                                   args[3], args[4])
    conn = sqlite3.connect(db, timeout=5)
    rng = random.Random(4)
    time.sleep(1.0)
    c0, t0 = tree_cpu(pid), time.monotonic()
    time.sleep(5.0)
    c1, t1 = tree_cpu(pid), time.monotonic()
    print(f"idle_cpu_pct={100 * (c1 - c0) / (t1 - t0):.3f}")
    lat = []
    for i in range(count):
        time.sleep(rng.uniform(0.2, 0.5))
        sql = (f"INSERT INTO jobs(input, output_dir) VALUES('{inp}', "
               f"'{outdir}/n{i}') RETURNING id;")
        jid = int(subprocess.run(["sqlite3", "-cmd", ".timeout 5000", db, sql],
                                 check=True, capture_output=True,
                                 text=True).stdout)
        deadline = time.monotonic() + 10
        while True:
            r = conn.execute("SELECT started_at - created_at FROM jobs "
                             "WHERE id = ?", (jid,)).fetchone()
            if r[0] is not None or time.monotonic() > deadline:
                break
            time.sleep(0.002)
        lat.append("timeout" if r[0] is None else str(r[0]))
    print("notice_ms=" + ",".join(lat))
    return 0


def tslog(args):
    with open(args[0], "w", buffering=1) as out:
        for line in sys.stdin.buffer:
            out.write(f"{time.time() * 1000:.3f} "
                      f"{line.decode('utf-8', 'replace')}")
    return 0


def sample_pids(args):
    for p in args[1:]:
        r = rollup(int(p))
        print(p, *(r if r else ("-", "-")))
    return 0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    fn = {"cmd": cmd, "daemon": daemon, "tslog": tslog,
          "sample-pids": sample_pids, "rate": rate,
          "notice": notice}.get(sys.argv[1])
    if fn is None:
        sys.exit(__doc__)
    sys.exit(fn(sys.argv[2:]))


if __name__ == "__main__":
    main()
