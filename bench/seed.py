#!/usr/bin/python3
"""The seed baseline of issue 4: the method of ../shared/SEED.txt.

Per file a multiprocessing.Process (fork start method) runs OpenCV:
cv2.VideoCapture, CAP_PROP_FRAME_COUNT, seek with CAP_PROP_POS_FRAMES to
i * max(1, total // 5), cv2.imwrite of a JPEG; the parent checks the exit
code, then reads the result from an mp.Queue.  cv2.setNumThreads(1) and
OMP_NUM_THREADS=1 as SEED.txt recommends.  Two files at a time, like two
Spark task slots: a pool of SLOTS driver threads, each spawning one Process
per file and waiting for it.

Usage: /usr/bin/python3 bench/seed.py LIST [SLOTS]
LIST has one "INPUT<TAB>OUTDIR" line per file.  Prints one summary line:
"files=N ok=N crashed=N exception=N frames=N wall=S cpu=S", where wall and
cpu (user+sys of this process and its children) start after the imports:
interpreter start-up and `import cv2` are not charged to the seed, as an
executor's Python worker has them behind it.  Run it with Debian's
python3-opencv (/usr/bin/python3), not a pyenv interpreter.
"""
import os

os.environ["OMP_NUM_THREADS"] = "1"

import multiprocessing as mp  # noqa: E402
import queue  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402

cv2.setNumThreads(1)


class NonRetryableError(Exception):
    """A crashed child: FAILED, not retried (SEED.txt)."""


def target(q, video_path, output_dir):
    """The child: SEED.txt's OpenCV logic, unchanged in substance."""
    try:
        cap = cv2.VideoCapture(video_path)
        if not cap.isOpened():
            raise ValueError("cannot open video")
        total_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        step = max(1, total_frames // 5)
        os.makedirs(output_dir, exist_ok=True)
        saved_count = 0
        for i in range(5):
            cap.set(cv2.CAP_PROP_POS_FRAMES, i * step)
            ret, frame = cap.read()
            if ret:
                out_path = os.path.join(output_dir, f"frame_{i}.jpg")
                cv2.imwrite(out_path, frame)
                saved_count += 1
        cap.release()
        q.put(saved_count)
    except Exception as e:  # noqa: BLE001 - SEED.txt reports every error
        q.put(("exception", str(e)))


def process_one(video_path, output_dir):
    """The parent side: a Process per file, exit code, then the queue."""
    q = mp.Queue()
    p = mp.Process(target=target, args=(q, video_path, output_dir))
    p.start()
    p.join()
    if p.exitcode != 0:
        raise NonRetryableError(f"child crashed, exit code {p.exitcode}")
    result = q.get()
    if isinstance(result, tuple) and result[0] == "exception":
        raise RuntimeError(f"child exception: {result[1]}")
    return result


def cpu_now():
    a = resource.getrusage(resource.RUSAGE_SELF)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def main():
    t0, c0 = time.monotonic(), cpu_now()
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    slots = int(sys.argv[2]) if len(sys.argv) == 3 else 2
    mp.set_start_method("fork")
    work = queue.Queue()
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                work.put(line.split("\t"))
    n = work.qsize()
    lock = threading.Lock()
    stats = {"ok": 0, "crashed": 0, "exception": 0, "frames": 0}

    def slot():
        while True:
            try:
                video, outdir = work.get_nowait()
            except queue.Empty:
                return
            try:
                got = process_one(video, outdir)
                key = "ok"
            except NonRetryableError:
                got, key = 0, "crashed"
            except Exception:  # noqa: BLE001
                got, key = 0, "exception"
            with lock:
                stats[key] += 1
                stats["frames"] += got

    threads = [threading.Thread(target=slot) for _ in range(slots)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.monotonic() - t0, cpu_now() - c0
    print(f"files={n} ok={stats['ok']} crashed={stats['crashed']} "
          f"exception={stats['exception']} frames={stats['frames']} "
          f"wall={wall:.4f} cpu={cpu:.3f}")


if __name__ == "__main__":
    main()
