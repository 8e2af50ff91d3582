#!/usr/bin/python3
"""Frame-exactness of extracted JPEGs against the true frame numbers.

Usage: /usr/bin/python3 bench/exact.py REFDIR LIST DETAILS
LIST lines: "VIDEO<TAB>TRUE_FRAME_COUNT<TAB>OUTDIR".  For each video the
targets are K_i = i * max(1, total // 5), i = 0..4 (those < total), the
positions README.md defines.  OUTDIR/frame_<i>.jpg is exact when its PSNR
against frame K_i is >= 28 dB and higher than against frames K_i - 1 and
K_i + 1.  PSNR is on luma: the JPEG's Y channel against the frame's Y
plane (RGB comparisons mostly measure chroma upsampling differences).
Reference frames are decoded once with
`ffmpeg -vf select=eq(n\\,K)+... -vsync 0 -pix_fmt gray` to PNG and kept
under REFDIR/<video name>/<K>.png (the corpus is deterministic).
Prints "checked=N exact=N missing=N wrong=N"; DETAILS gets one line per
frame (video, i, K, PSNR at K-1, K, K+1, verdict).
"""
import os
import subprocess
import sys
import tempfile

import cv2

MIN_PSNR = 28.0


def targets(total):
    step = max(1, total // 5)
    return [i * step for i in range(5) if i * step < total]


def refs_for(refdir, video, total, ks):
    d = os.path.join(refdir, os.path.basename(video))
    need = sorted({k + j for k in ks for j in (-1, 0, 1) if 0 <= k + j < total})
    if all(os.path.exists(os.path.join(d, f"{k}.png")) for k in need):
        return d
    os.makedirs(d, exist_ok=True)
    expr = "+".join(f"eq(n\\,{k})" for k in need)
    with tempfile.TemporaryDirectory(dir=refdir) as tmp:
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", video,
                        "-vf", f"select={expr}", "-vsync", "0",
                        "-pix_fmt", "gray", "-start_number", "0",
                        os.path.join(tmp, "%d.png")], check=True)
        got = sorted(os.listdir(tmp), key=lambda s: int(s.split(".")[0]))
        if len(got) != len(need):
            raise SystemExit(f"exact: {video}: ffmpeg gave {len(got)} of "
                             f"{len(need)} reference frames")
        for name, k in zip(got, need):
            os.replace(os.path.join(tmp, name), os.path.join(d, f"{k}.png"))
    return d


def psnr(a, b):
    if b is None or a.shape != b.shape:
        return None
    return cv2.PSNR(a, b)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    refdir, listfile, details = sys.argv[1:]
    os.makedirs(refdir, exist_ok=True)
    checked = exact = missing = wrong = 0
    with open(listfile) as f, open(details, "w") as out:
        for line in f:
            video, total, outdir = line.rstrip("\n").split("\t")
            total = int(total)
            ks = targets(total)
            d = refs_for(refdir, video, total, ks)
            for i, k in enumerate(ks):
                checked += 1
                img = cv2.imread(os.path.join(outdir, f"frame_{i}.jpg"),
                                 cv2.IMREAD_GRAYSCALE)
                if img is None:
                    missing += 1
                    out.write(f"{video}\t{i}\t{k}\t-\t-\t-\tmissing\n")
                    continue
                p = {}
                for j in (-1, 0, 1):
                    if 0 <= k + j < total:
                        ref = cv2.imread(os.path.join(d, f"{k + j}.png"),
                                         cv2.IMREAD_GRAYSCALE)
                        p[j] = psnr(img, ref)
                at = p.get(0)
                ok = (at is not None and at >= MIN_PSNR and
                      all(v is None or v < at
                          for j, v in p.items() if j != 0))
                if ok:
                    exact += 1
                else:
                    wrong += 1
                shape = "" if at is not None else f" size {img.shape[1]}x{img.shape[0]}"
                cells = "\t".join("-" if p.get(j) is None else f"{p[j]:.1f}"
                                  for j in (-1, 0, 1))
                out.write(f"{video}\t{i}\t{k}\t{cells}\t"
                          f"{'exact' if ok else 'wrong' + shape}\n")
    print(f"checked={checked} exact={exact} missing={missing} wrong={wrong}")


if __name__ == "__main__":
    main()
