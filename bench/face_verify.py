"""Face verification cost: CPU seconds per complete verification (3 frames at 640 px, identity and
liveness), median over the photo set, next to a straightforward face_recognition pipeline on the same frames
in the same run (decode at 640 px, HOG with the default upsampling, 128-d encodings), the match distances
of both, and verifications per second with 2 worker processes. First it prints the measurement behind the
engine's detection size (core.faces.engine.DETECT_SIDE): for each candidate size, the detector's CPU per frame,
the faces found in every test frame and in the other photos of ../shared/data/faces, and the outcomes and
match-distance drift of the verifications with detection at that size.

    .venv/bin/python bench/face_verify.py [--rounds 5] [--sizes 640,560,520,500,480,460,440,400]

CPU is process CPU (time.process_time) on the same frames in the same run, rounds alternating the order
(ours first, then the straightforward pipeline first), medians.

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


def run_set(args: tuple, plain_first: bool = False) -> tuple:
    """(our CPU s, straightforward CPU s, outcome, our distance, straightforward encodings) for one 3-frame
    verification; ``plain_first`` runs the straightforward pipeline first (rounds alternate the order)."""
    engine, reference, frames = args
    from core.faces import engine as faces
    from core.liveness.services import hash_frames

    def ours():  # what core.liveness.check runs, without its database look-ups: decode once, hash, verify
        t0 = time.process_time()
        pixels = faces.decode(frames)
        hash_frames(frames, pixels)  # the replay memory's SHA-256, dHash and mirrored dHash per frame
        verdict = faces.verify(engine, frames, reference, tolerance=0.6, turn_threshold=0.15, pixels=pixels)
        return time.process_time() - t0, verdict

    def plain():
        t0 = time.process_time()
        encodings = [straightforward(engine, data) for data in frames]
        return time.process_time() - t0, encodings

    if plain_first:
        raw, encodings = plain()
        cpu, verdict = ours()
    else:
        cpu, verdict = ours()
        raw, encodings = plain()
    outcome = "passed" if verdict.passed else verdict.reason
    return cpu, raw, outcome, verdict.distance, encodings


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
    _refs.clear()
    for ref, _ in SETS:
        _refs[ref] = faces.encode_reference(_engine, load(ref))


def _worker(index: int) -> str:
    from core.faces import engine as faces
    from core.liveness.services import hash_frames

    ref, names = SETS[index % len(SETS)]
    frames = [load(n) for n in names]
    pixels = faces.decode(frames)
    hash_frames(frames, pixels)
    verdict = faces.verify(_engine, frames, _refs[ref], tolerance=0.6, turn_threshold=0.15, pixels=pixels)
    return "passed" if verdict.passed else verdict.reason


def _frames() -> list[str]:
    return sorted({n for _, names in SETS for n in names} | {ref for ref, _ in SETS})


def _others() -> list[str]:
    """The other photos of the folder (single faces, the three group photos, the photo without a face)."""
    test = set(_frames())
    found = (p.relative_to(FACES).as_posix() for p in FACES.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    return sorted(n for n in found if n not in test)


# faces found by the straightforward pipeline at 640 px: SOURCES.txt's "faces" column (upsampled once)
GROUPS = {"kit_with_rose.jpg", "two_people.jpg", "obama_and_biden.jpg"}
NO_FACE = {"no_face_flag_crop.jpg"}


def measure_sizes(sizes: list[int], plain: dict) -> None:
    """The measurement behind DETECT_SIDE: detection at each candidate size (grey, no upsampling)."""
    import numpy as np
    from PIL import Image

    from core.faces import engine as faces

    chosen = faces.DETECT_SIDE
    pixels = {n: faces.prepare(load(n)) for n in _frames() + _others()}
    grey = {n: np.asarray(Image.fromarray(p).convert("L")) for n, p in pixels.items()}
    print("detection size (grey copy, no upsampling; frames decoded at 640 px), chosen: " + str(chosen))
    print(
        "  size  detect ms/frame  test frames with 1 face  weakest score  other single-face  groups >1 face  "
        "no-face 0  worst drift  outcomes"
    )
    try:
        for side in sizes:
            faces.DETECT_SIDE = side
            cpu, counts, scores = [], {}, []
            for n in _frames():  # the detector's score of each test frame's best face (0 = its threshold)
                picture = Image.fromarray(grey[n])
                scale = side / max(picture.size)
                if scale < 1:
                    picture = picture.resize((round(picture.width * scale), round(picture.height * scale)))
                found = _engine.api.face_detector.run(np.asarray(picture), 0, -1.0)[1]
                scores.append(max(found) if len(found) else -1.0)
            for n in pixels:
                runs = []
                for _ in range(3):
                    t0 = time.process_time()
                    counts[n] = len(faces.locate(_engine, grey[n]))
                    runs.append(time.process_time() - t0)
                if n in _frames():
                    cpu.append(statistics.median(runs))
            singles = [n for n in _others() if n not in GROUPS | NO_FACE]
            shifts, outcomes = [], []
            for ref, names in SETS:
                reference = faces.encode_reference(_engine, load(ref))
                verdict = faces.verify(_engine, [load(n) for n in names], reference, tolerance=0.6, turn_threshold=0.15)
                outcomes.append("passed" if verdict.passed else verdict.reason)
                if verdict.distance is not None and plain[(ref, tuple(names))] is not None:
                    shifts.append(abs(verdict.distance - plain[(ref, tuple(names))]))
            ones = sum(counts[n] == 1 for n in _frames())
            lost = [f"{n}={counts[n]}" for n in _frames() if counts[n] != 1]
            groups = ", ".join(f"{counts[n]}" for n in sorted(GROUPS))
            print(
                f"  {side:4}  {1000 * statistics.median(cpu):15.1f}  {ones:3}/{len(_frames()):<20}"
                f"  {min(scores):+13.2f}  {sum(counts[n] == 1 for n in singles):3}/{len(singles):<13}  {groups:14}  "
                f"{'yes' if all(counts[n] == 0 for n in NO_FACE) else 'NO':9}  "
                f"{(max(shifts) if shifts else float('nan')):11.3f}  {' '.join(o[:7] for o in outcomes)}"
                + (f"   lost: {' '.join(lost)}" if lost else "")
            )
    finally:
        faces.DETECT_SIDE = chosen
    print(
        f"  (groups: {', '.join(sorted(GROUPS))}; weakest score: the lowest over the test frames of the detector's "
        "score for the face found, 0 = its threshold; outcomes per set in the order below)\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=28, help="verifications for the 2-process figure")
    parser.add_argument(
        "--sizes", default="640,560,520,500,480,460,440,400", help="detection sizes to measure ('' = none)"
    )
    args = parser.parse_args()
    _init()
    import numpy as np

    # the straightforward pipeline's match distance per set (its own reference encoding)
    plain = {}
    for ref, names in SETS:
        reference = straightforward(_engine, load(ref))
        encodings = [straightforward(_engine, load(n)) for n in names]
        ok = reference is not None and all(e is not None for e in encodings)
        plain[(ref, tuple(names))] = float(_engine.face_distance(np.array(encodings), reference).max()) if ok else None
    if args.sizes:
        measure_sizes([int(x) for x in args.sizes.split(",")], plain)

    ours, raw = [], []
    for n in range(args.rounds):
        for ref, names in SETS:
            o, r, *_ = run_set((_engine, _refs[ref], [load(n) for n in names]), plain_first=n % 2 == 1)
            ours.append(o)
            raw.append(r)

    shifts = []
    print("match distance (largest over the frames) to the reference: ours / straightforward pipeline (drift)")
    for ref, names in SETS:
        _, _, outcome, distance, _ = run_set((_engine, _refs[ref], [load(n) for n in names]))
        other = plain[(ref, tuple(names))]
        shown = "-"
        if distance is not None and other is not None:
            shifts.append(abs(distance - other))
            shown = f"{distance:.3f} / {other:.3f}  ({abs(distance - other):.3f})"
        print(f"  {ref:26} -> {outcome:12} {shown}")
    worst = max(shifts) if shifts else float("nan")
    print(f"  largest change of a match distance: {worst:.3f}   (goal <= 0.02: {'OK' if worst <= 0.02 else 'ABOVE'})")
    median_ours, median_raw = statistics.median(ours), statistics.median(raw)
    print(f"\nCPU seconds per verification (3 frames, 640 px), median over {len(ours)} runs, rounds alternating:")
    print(
        f"  ReliefLink verify (decode, grey detection at {_faces().DETECT_SIDE} px, 5-point landmarks, encode, "
        f"identity, replay and head-turn checks): {median_ours:.3f} s   "
        f"(target <= 0.5 s: {'OK' if median_ours <= 0.5 else 'ABOVE'})"
    )
    print(
        f"  straightforward face_recognition (decode 640 px, HOG upsampled once, encode; same frames):   "
        f"{median_raw:.3f} s"
    )
    ratio = median_ours / median_raw
    print(
        f"  ours (the whole check, replay hashes included) / straightforward: {ratio:.3f}x   "
        f"(goal <= 0.6x: {'OK' if ratio <= 0.6 else 'ABOVE'})"
    )
    from core.faces import engine as faces
    from core.liveness.services import hash_frames

    hashing = []
    for _, names in SETS:  # the replay memory's hashes from the shared decode (included in "ours" above)
        frames = [load(n) for n in names]
        pixels = faces.decode(frames)
        t0 = time.process_time()
        hash_frames(frames, pixels)
        hashing.append(time.process_time() - t0)
    hash_cost = statistics.median(hashing)
    print(f"  of which replay-memory hashes of the decoded frames (core.liveness): {hash_cost:.4f} s")
    steps = (median_ours - hash_cost) / median_raw
    print(
        f"  ours without the replay hashes (the straightforward pipeline's steps only) / straightforward: "
        f"{steps:.3f}x   (goal <= 0.6x: {'OK' if steps <= 0.6 else 'ABOVE'})"
    )
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


def _faces():
    from core.faces import engine as faces

    return faces


if __name__ == "__main__":
    main()
