"""The face engine's detection (grey copy at DETECT_SIDE px, no upsampling, chosen by measurement in
bench/face_verify.py) on the real photos of ../shared/data/faces: exactly one face in every test frame, group
photos never taken for one person, match distances within 0.02 of face_recognition's defaults, and the
bench's verification outcomes unchanged. Not timed: bench/face_verify.py prints the CPU figures."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SHARED, unavailable

FACES = SHARED / "data" / "faces"

# the bench's verification sets (reference, 3 frames) and their outcomes with face_recognition's defaults
SETS = [
    ("obama.jpg", ["obama1.jpg", "obama2.jpg", "obama3.jpg"], "passed"),
    (
        "lin-manuel-miranda.png",
        ["hamilton_turn/hamilton_f0132.jpg", "hamilton_turn/hamilton_f0148.jpg", "hamilton_turn/hamilton_f0160.jpg"],
        "passed",
    ),
    (
        "lin-manuel-miranda.png",
        ["hamilton_turn/hamilton_f0140.jpg", "hamilton_turn/hamilton_f0148.jpg", "hamilton_turn/hamilton_f0156.jpg"],
        "passed",
    ),
    ("biden2.jpg", ["biden.jpg", "biden2.jpg", "obama2.jpg"], "mismatch"),
    (
        "kit_harington_john1.jpeg",
        ["kit_harington_john2.jpeg", "johnsnow_test1.jpg", "kit_harington_john1.jpeg"],
        "passed",
    ),
    ("alex-lacamoire.png", ["alex_lacamoire1.jpg", "alex_lacamoire_img1.jpg", "alex-lacamoire.png"], "no_liveness"),
    ("rose_leslie_img1.jpg", ["rose_leslie_img2.jpg", "rose_leslie_img1.jpg", "rose_leslie_img2.jpg"], "no_liveness"),
]
GROUPS = ["kit_with_rose.jpg", "two_people.jpg", "obama_and_biden.jpg"]
SINGLE = sorted(
    {n for ref, frames, _ in SETS for n in [ref, *frames]}
    | {"obama-1080p.jpg", "obama-240p.jpg", "obama-480p.jpg", "obama_small.jpg", "obama_partial_face.jpg"}
    | {"obama_partial_face2.jpg"}
)
# pairs (same person and not) for the distance drift
PAIRS = [
    ("obama.jpg", "obama1.jpg"),
    ("obama.jpg", "obama2.jpg"),
    ("lin-manuel-miranda.png", "hamilton_turn/hamilton_f0132.jpg"),
    ("kit_harington_john1.jpeg", "johnsnow_test1.jpg"),
    ("rose_leslie_img1.jpg", "rose_leslie_img2.jpg"),
    ("alex-lacamoire.png", "alex_lacamoire1.jpg"),
    ("biden2.jpg", "obama2.jpg"),
    ("kit_harington_john2.jpeg", "rose_leslie_img2.jpg"),
]


@pytest.fixture(scope="module")
def engine():
    if not FACES.exists():
        unavailable(f"{FACES} is absent: no real photos to test faces with")
    from core.faces import engine as faces

    return faces.load_engine()


def _pixels(name: str) -> np.ndarray:
    from core.faces import engine as faces

    return faces.prepare((FACES / name).read_bytes())


def _default_encoding(engine, name: str) -> np.ndarray:
    """face_recognition's defaults on the 640 px frame: HOG upsampled once, face_encodings' defaults."""
    pixels = _pixels(name)
    boxes = engine.face_locations(pixels)
    assert len(boxes) == 1, name
    return engine.face_encodings(pixels, boxes)[0]


@pytest.mark.parametrize("name", SINGLE)
def test_exactly_one_face_in_every_test_frame(engine, name):
    from core.faces import engine as faces

    assert faces.analyse(engine, _pixels(name)).faces == 1


@pytest.mark.parametrize("name", GROUPS)
def test_a_group_photo_is_never_one_person(engine, name):
    from core.faces import engine as faces

    assert faces.analyse(engine, _pixels(name)).faces != 1


def test_no_face_photo(engine):
    from core.faces import engine as faces

    assert faces.analyse(engine, _pixels("no_face_flag_crop.jpg")).faces == 0


def test_distances_within_002_of_face_recognition_defaults(engine):
    from core.faces import engine as faces

    for a, b in PAIRS:
        ours = float(
            np.linalg.norm(faces.analyse(engine, _pixels(a)).encoding - faces.analyse(engine, _pixels(b)).encoding)
        )
        default = float(np.linalg.norm(_default_encoding(engine, a) - _default_encoding(engine, b)))
        assert abs(ours - default) <= 0.02, (a, b, ours, default)
        assert (ours <= 0.6) == (default <= 0.6), (a, b, ours, default)


def test_landmarks_found_once_give_face_recognitions_encoding_and_landmarks(engine):
    """The engine finds the 5-point landmarks once for the encoding and the head turn: the same values as
    face_recognition's face_encodings and face_landmarks(model="small") on the same box."""
    from PIL import Image

    from core.faces import engine as faces

    pixels = _pixels("hamilton_turn/hamilton_f0132.jpg")
    box = faces.locate(engine, Image.fromarray(pixels).convert("L"))[0]
    result = faces.analyse(engine, pixels)
    assert np.array_equal(result.encoding, engine.face_encodings(pixels, [box], num_jitters=1)[0])
    assert result.turn == faces.head_turn(engine.face_landmarks(pixels, [box], model="small")[0])


def test_the_bench_verifications_keep_their_outcomes(engine):
    from core.faces import engine as faces

    for ref, frames, outcome in SETS:
        reference = faces.encode_reference(engine, (FACES / ref).read_bytes())
        verdict = faces.verify(
            engine, [(FACES / n).read_bytes() for n in frames], reference, tolerance=0.6, turn_threshold=0.15
        )
        assert ("passed" if verdict.passed else verdict.reason) == outcome, (ref, frames, verdict)


def test_faces_are_counted_in_every_frame_before_any_encoding(engine, monkeypatch):
    """A frame without exactly one face fails the check before any frame is encoded (the costly step)."""
    from core.faces import engine as faces

    reference = faces.encode_reference(engine, (FACES / "obama.jpg").read_bytes())
    encoded = []
    monkeypatch.setattr(faces, "_describe", lambda *args: encoded.append(args) or faces.FrameResult(faces=1))
    for last, reason in (("no_face_flag_crop.jpg", "no_face"), ("two_people.jpg", "many_faces")):
        frames = [(FACES / n).read_bytes() for n in ("obama1.jpg", "obama2.jpg", last)]
        verdict = faces.verify(engine, frames, reference, tolerance=0.6, turn_threshold=0.15)
        assert verdict.reason == reason and [f.faces for f in verdict.frames][:2] == [1, 1]
    assert encoded == []


@pytest.mark.parametrize("name", SINGLE)
def test_replay_hashes_from_the_shared_decode_are_imagehash_dhashes(name):
    """The replay memory's hashes come from the frame as the face check decoded it (one decode), and are
    imagehash's dHash of the image and of its mirror image, bit for bit."""
    imagehash = pytest.importorskip("imagehash")
    from PIL import Image, ImageOps

    from core.faces.engine import decode
    from core.liveness.services import hash_frames

    data = (FACES / name).read_bytes()
    (pixels,) = decode([data])
    (frame,) = hash_frames([data], [pixels])
    image = Image.fromarray(pixels)
    assert frame.dhash == str(imagehash.dhash(image)) and frame.mirrored == str(imagehash.dhash(ImageOps.mirror(image)))
    (alone,) = hash_frames([data])  # decoded by the hash itself: the same decode, the same hashes
    assert alone == frame


def test_an_undecodable_frame_is_a_value_error_of_decode():
    from core.faces.engine import decode

    with pytest.raises(ValueError, match="undecodable"):
        decode([b"\xff\xd8 not a jpeg"])
