"""Face verification cost: CPU seconds per complete verification (3 frames at 640 px, identity and
liveness), median over the photo set, next to a straightforward face_recognition pipeline on the same frames
in the same run (decode at 640 px, HOG with the default upsampling, 128-d encodings), the match distances
of both, and verifications per second with 2 worker processes.

    .venv/bin/python bench/face_verify.py [--rounds 3]

Goals (issues 4 and 15): <= 0.5 s CPU per verification; <= 0.6x the straightforward pipeline's CPU; match
distances within 0.02 of the straightforward pipeline's on every set.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FACES = ROOT.parent / "shared" / "data" / "faces"

SETS = [
    ("obama.jpg", ["obama1.jpg", "obama2.jpg", "obama3.jpg"]),
    (
        "lin-manuel-miranda.png",
        ["hamilton_turn/hamilton_f0132.jpg", "hamilton_turn/hamilton_f0148.jpg", "hamilton_turn/hamilton_f0160.jpg"],
    ),
    (
        "lin-manuel-miranda.png",
        ["hamilton_turn/hamilton_f0140.jpg", "hamilton_turn/hamilton_f0148.jpg", "hamilton_turn/hamilton_f0156.jpg"],
    ),
    ("biden2.jpg", ["biden.jpg", "biden2.jpg", "obama2.jpg"]),
    ("kit_harington_john1.jpeg", ["kit_harington_john2.jpeg", "johnsnow_test1.jpg", "kit_harington_john1.jpeg"]),
    ("alex-lacamoire.png", ["alex_lacamoire1.jpg", "alex_lacamoire_img1.jpg", "alex-lacamoire.png"]),
    ("rose_leslie_img1.jpg", ["rose_leslie_img2.jpg", "rose_leslie_img1.jpg", "rose_leslie_img2.jpg"]),
]


def load(name: str) -> bytes:
    return (FACES / name).read_bytes()


def run_set(args: tuple) -> tuple[float, float, str]:
    """(our CPU s, raw dlib CPU s, outcome) for one 3-frame verification."""
    engine, reference, frames = args
    from core.faces import engine as faces

    t0 = time.process_time()
    verdict = faces.verify(engine, frames, reference, tolerance=0.6, turn_threshold=0.15)
    ours = time.process_time() - t0
    t0 = time.process_time()
    encodings = [straightforward(engine, data) for data in frames]
    raw = time.process_time() - t0
    outcome = "passed" if verdict.passed else verdict.reason
    return ours, raw, outcome, verdict.distance, encodings


def straightforward(engine, data: bytes):
    """The plain pipeline: decode (at 640 px, as ours), HOG with face_recognition's default upsampling, encode."""
    from core.faces import engine as faces

    pixels = faces.prepare(data)
    locations = engine.face_locations(pixels, number_of_times_to_upsample=1, model="hog")
    found = engine.face_encodings(pixels, locations, num_jitters=1)
    return found[0] if len(found) == 1 else None


_engine = None
_refs: dict = {}


def _init() -> None:
    global _engine
    from core.faces import engine as faces

    _engine = faces.load_engine()
    for ref, _ in SETS:
        _refs[ref] = faces.encode_reference(_engine, load(ref))


def _worker(index: int) -> str:
    from core.faces import engine as faces

    ref, names = SETS[index % len(SETS)]
    verdict = faces.verify(_engine, [load(n) for n in names], _refs[ref], tolerance=0.6, turn_threshold=0.15)
    return "passed" if verdict.passed else verdict.reason


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=28, help="verifications for the 2-process figure")
    args = parser.parse_args()
    _init()
    ours, raw = [], []
    for _ in range(args.rounds):
        for ref, names in SETS:
            o, r, *_ = run_set((_engine, _refs[ref], [load(n) for n in names]))
            ours.append(o)
            raw.append(r)
    import numpy as np

    shifts = []
    print("match distance (largest over the frames) to the reference: ours / straightforward pipeline")
    for ref, names in SETS:
        _, _, outcome, distance, encodings = run_set((_engine, _refs[ref], [load(n) for n in names]))
        reference = straightforward(_engine, load(ref))
        plain = None
        if reference is not None and all(e is not None for e in encodings):
            plain = float(_engine.face_distance(np.array(encodings), reference).max())
        if distance is not None and plain is not None:
            shifts.append(abs(distance - plain))
        shown = f"{distance:.3f} / {plain:.3f}" if distance is not None and plain is not None else "-"
        print(f"  {ref:26} -> {outcome:12} {shown}")
    worst = max(shifts) if shifts else float("nan")
    print(f"  largest change of a match distance: {worst:.3f}   (goal <= 0.02: {'OK' if worst <= 0.02 else 'ABOVE'})")
    median_ours, median_raw = statistics.median(ours), statistics.median(raw)
    print(f"\nCPU seconds per verification (3 frames, 640 px), median over {len(ours)} runs:")
    print(
        f"  ReliefLink verify (decode, detect, encode, 5-point landmarks, identity, replay and head-turn checks): "
        f"{median_ours:.3f} s   (target <= 0.5 s: {'OK' if median_ours <= 0.5 else 'ABOVE'})"
    )
    print(
        f"  straightforward face_recognition (decode 640 px, HOG upsampled once, encode; same frames):   "
        f"{median_raw:.3f} s"
    )
    ratio = median_ours / median_raw
    print(f"  ours / straightforward: {ratio:.2f}x   (goal <= 0.6x: {'OK' if ratio <= 0.6 else 'ABOVE'})")
    from core.liveness.services import hash_frames

    hashing = []
    for _, names in SETS:  # the replay memory's hashes (SHA-256, dHash and mirrored dHash per frame)
        frames = [load(n) for n in names]
        t0 = time.process_time()
        hash_frames(frames)
        hashing.append(time.process_time() - t0)
    print(f"  + replay-memory hashes of the frames (core.liveness): {statistics.median(hashing):.3f} s")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2, initializer=_init) as pool:
        pool.map(_worker, range(2))  # warm-up
        t0 = time.perf_counter()
        outcomes = pool.map(_worker, range(args.parallel))
        elapsed = time.perf_counter() - t0
    print(
        f"\n2 worker processes: {args.parallel / elapsed:.2f} verifications/s "
        f"({args.parallel} in {elapsed:.1f} s; {outcomes.count('passed')} passed)"
    )


if __name__ == "__main__":
    main()
