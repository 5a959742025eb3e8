"""Face verification: the same person as the reference portrait in every frame, and a live head turn.

Uses face_recognition (dlib): frames decoded at 640 px; the HOG detector (no upsampling) on a grey 480 px copy, the
box scaled back; the 5-point landmark model (free of the 68-point model's non-commercial training-data restriction)
on the 640 px frame, found once for both the 128-d encoding (face_recognition's default 5-point alignment,
num_jitters=1) and the head-turn measure: the nose tip projected onto the line between the outer eye corners
(0.5 = frontal).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from itertools import combinations
from types import ModuleType

import numpy as np
from PIL import Image, ImageOps

MAX_SIDE = 640


class FaceEngineUnavailable(RuntimeError):
    """face_recognition (or its models) did not load."""


def load_engine() -> ModuleType:
    """Import face_recognition, refusing loudly when its models are missing.

    face_recognition calls ``quit()`` (exit status 0) when face_recognition_models cannot be imported
    (e.g. setuptools >= 82 without pkg_resources): catch that and raise instead of dying silently.
    """
    try:
        import face_recognition
    except SystemExit as exc:
        raise FaceEngineUnavailable(
            "face_recognition exited while importing: models missing "
            "(install face_recognition_models and setuptools<82)"
        ) from exc
    except ImportError as exc:
        raise FaceEngineUnavailable(f"face_recognition is not installed: {exc}") from exc
    return face_recognition


@dataclass
class FrameResult:
    faces: int
    encoding: np.ndarray | None = None
    turn: float | None = None
    thumb: np.ndarray | None = None


@dataclass
class Verdict:
    passed: bool
    reason: str | None
    distance: float | None = None
    liveness: float | None = None
    encoding: np.ndarray | None = None
    frames: list[FrameResult] = field(default_factory=list)


def prepare(data: bytes) -> np.ndarray:
    """Decode, apply EXIF orientation, downscale to at most 640 px, RGB uint8."""
    image = Image.open(io.BytesIO(data))
    width, height = image.size
    scale = min(1.0, MAX_SIDE / max(width, height))
    # JPEG: decode at a reduced scale (DCT scaling by 1/2, 1/4 or 1/8), the smallest one still at least the
    # final size: asking for the final size (not a 640 x 640 square) lets a tall or wide photo decode at 1/2
    image.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
    image = ImageOps.exif_transpose(image)
    image = image.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    return np.asarray(image)


def decode(frames: list[bytes]) -> list[np.ndarray]:
    """Every frame through ``prepare``, once: the replay hashes and the face check share the pixels.
    Raises ValueError for an undecodable frame."""
    try:
        return [prepare(data) for data in frames]
    except Exception as exc:
        raise ValueError("undecodable frame") from exc


def head_turn(landmarks: dict) -> float | None:
    """Nose tip position on the outer-eye-corner axis (5-point model)."""
    try:
        left, right = np.array(landmarks["left_eye"][0], float), np.array(landmarks["right_eye"][0], float)
        nose = np.array(landmarks["nose_tip"][0], float)
    except (KeyError, IndexError):
        return None
    axis = right - left
    norm = float(axis @ axis)
    return float((nose - left) @ axis / norm) if norm else None


# HOG detection on a grey copy of the decoded frame at DETECT_SIDE px, without upsampling. Chosen by measurement
# (bench/face_verify.py prints it; issue 15) on the bench's 20 test frames and the other 10 photos of
# ../shared/data/faces. Detector CPU ms per frame (quiet machine): 640 px RGB upsampled once (the straightforward
# pipeline) ~55; 640 px RGB 12 (before); grey 640 9, 560 7, 520 6, 480 5, 440 4.5, 400 3.6. Down to 480 px every
# test frame and every other single-face photo has exactly one face (weakest detector score +0.34 at 480, +0.59
# at 640; 0 = threshold), at 460 px obama3 loses it, at 440 px kit_harington_john1 too, at 400 px five frames.
# Two of the three group photos keep two faces; obama_and_biden.jpg (small faces) has 2 at 640 and none from
# 560 down (refused as no_face, never taken for one person; 560 px RGB found 1). Match distances stay within
# 0.008-0.016 of the straightforward pipeline's from 640 to 480 px. The head-turn measure moves by up to ~0.03
# with the box (which shifts by a few px from one detection size to another): the bench's set hamilton
# f0140/f0148/f0156 turns 0.13-0.18 depending on the size (threshold 0.15; 0.161 at 640, 0.152 at 480, 0.130 at
# 520 and 0.144 at 500, where that set fails no_liveness). Of the sizes that keep every outcome, 480 is the cheapest.
DETECT_SIDE = 480
UPSAMPLE = 0


def locate(
    engine: ModuleType, image: np.ndarray | Image.Image, side: int | None = None, upsample: int = UPSAMPLE
) -> list[tuple[int, int, int, int]]:
    """HOG face boxes (top, right, bottom, left) in ``image``'s coordinates, detected on a copy of at most
    ``side`` px (default DETECT_SIDE): the detector's cost scales with the area it scans."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    width, height = picture.size
    scale = (side or DETECT_SIDE) / max(width, height)
    if scale >= 1:
        return engine.face_locations(np.asarray(picture), number_of_times_to_upsample=upsample, model="hog")
    small = np.asarray(picture.resize((round(width * scale), round(height * scale))))
    boxes = engine.face_locations(small, number_of_times_to_upsample=upsample, model="hog")
    return [
        (
            max(0, round(t / scale)),
            min(width, round(r / scale)),
            min(height, round(b / scale)),
            max(0, round(x / scale)),
        )
        for t, r, b, x in boxes
    ]


def _landmarks_and_encoding(engine: ModuleType, pixels: np.ndarray, box: tuple[int, int, int, int]):
    """The 5-point landmarks and the 128-d encoding of one face: what ``face_landmarks(model="small")`` and
    ``face_encodings`` (its default 5-point alignment, num_jitters=1) compute, with the landmarks found once
    (face_recognition 1.3.0's ``api`` module; tests/core/test_face_detection.py holds both equal)."""
    api = engine.api
    shape = api.pose_predictor_5_point(pixels, api._css_to_rect(box))
    encoding = np.array(api.face_encoder.compute_face_descriptor(pixels, shape, 1))
    points = [(p.x, p.y) for p in shape.parts()]
    return {"nose_tip": [points[4]], "left_eye": [points[2], points[3]], "right_eye": [points[0], points[1]]}, encoding


def _detect(engine: ModuleType, pixels: np.ndarray) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    grey = Image.fromarray(pixels).convert("L")
    return grey, locate(engine, grey)


def _describe(engine: ModuleType, pixels: np.ndarray, grey: Image.Image, box: tuple[int, int, int, int]) -> FrameResult:
    landmarks, encoding = _landmarks_and_encoding(engine, pixels, box)
    thumb = np.asarray(grey.resize((64, 64)), dtype=np.float32)
    return FrameResult(faces=1, encoding=encoding, turn=head_turn(landmarks) if landmarks else None, thumb=thumb)


def analyse(engine: ModuleType, pixels: np.ndarray) -> FrameResult:
    grey, locations = _detect(engine, pixels)
    if len(locations) != 1:
        return FrameResult(faces=len(locations))
    return _describe(engine, pixels, grey, locations[0])


def encode_reference(engine: ModuleType, data: bytes) -> np.ndarray | None:
    result = analyse(engine, prepare(data))
    return result.encoding if result.faces == 1 else None


def verify(
    engine: ModuleType,
    frames: list[bytes],
    reference: np.ndarray | None,
    *,
    tolerance: float,
    turn_threshold: float,
    replay_threshold: float = 2.0,
    pixels: list[np.ndarray] | None = None,
) -> Verdict:
    """Check 3-5 frames against the reference encoding. Reasons match FACE_REASONS. ``pixels``: the frames
    already decoded by ``decode`` (the liveness check's), else they are decoded here."""
    if reference is None:
        return Verdict(False, "no_reference")
    # every frame decoded and its faces counted first (cheap), the costly encodings only when each has one face
    results: list[FrameResult] = []
    found = []
    for index, data in enumerate(frames):
        if pixels is not None:
            frame = pixels[index]
        else:
            try:
                frame = prepare(data)
            except Exception:  # noqa: BLE001 - any undecodable frame
                return Verdict(False, "bad_image", frames=results)
        grey, locations = _detect(engine, frame)
        results.append(FrameResult(faces=len(locations)))
        if not locations:
            return Verdict(False, "no_face", frames=results)
        if len(locations) > 1:
            return Verdict(False, "many_faces", frames=results)
        found.append((frame, grey, locations[0]))
    results = [_describe(engine, *frame) for frame in found]
    encodings = np.array([r.encoding for r in results])
    distances = engine.face_distance(encodings, reference)
    distance = float(distances.max())
    if distance > tolerance:
        return Verdict(False, "mismatch", distance=distance, frames=results)
    for a, b in combinations(encodings, 2):  # the same identity in every frame
        if float(np.linalg.norm(a - b)) > tolerance:
            return Verdict(False, "mismatch", distance=distance, frames=results)
    # liveness: a replayed photo gives (near-)identical frames, and a photo next to its mirror image
    # fakes a head turn; a live person turns the head
    for a, b in combinations(results, 2):
        if min(float(np.abs(a.thumb - b.thumb).mean()), float(np.abs(a.thumb - b.thumb[:, ::-1]).mean())) < (
            replay_threshold
        ):
            return Verdict(False, "no_liveness", distance=distance, liveness=0.0, frames=results)
    turns = [r.turn for r in results if r.turn is not None]
    liveness = (max(turns) - min(turns)) if len(turns) >= 2 else 0.0
    if liveness < turn_threshold:
        return Verdict(False, "no_liveness", distance=distance, liveness=liveness, frames=results)
    return Verdict(True, None, distance=distance, liveness=liveness, encoding=encodings.mean(axis=0), frames=results)
