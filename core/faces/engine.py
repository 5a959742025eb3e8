"""Face verification: the same person as the reference portrait in every frame, and a live head turn.

Uses face_recognition (dlib): HOG detector at 640 px (no upsampling), 128-d encodings, and the 5-point landmark model
(free of the 68-point model's non-commercial training-data restriction) for the head-turn measure:
the nose tip projected onto the line between the outer eye corners (0.5 = frontal).
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
    image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced scale (DCT scaling), much cheaper
    image = ImageOps.exif_transpose(image)
    image = image.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    return np.asarray(image)


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


# HOG detection on the decoded 640 px frame without upsampling. Chosen by measurement on the 30 photos of
# ../shared/data/faces (bench/face_verify.py, issue 15), CPU ms per frame: 640 px upsampled once 97 (the
# straightforward pipeline), 640 px 24, 560 px 19, 480 px 14, 400 px 10. At 640 px every single-face photo
# still has exactly one face and the three-person photo still more than one; at 560 px and below that photo
# shows one face or none (a group photo would pass as one person), at 400 px five single-face photos lose it.
DETECT_SIDE = 640
UPSAMPLE = 0


def locate(engine: ModuleType, pixels: np.ndarray) -> list[tuple[int, int, int, int]]:
    """HOG face detection (at most DETECT_SIDE px, no upsampling: the costliest step scales with the area)."""
    height, width = pixels.shape[:2]
    scale = DETECT_SIDE / max(height, width)
    if scale >= 1:
        return engine.face_locations(pixels, number_of_times_to_upsample=UPSAMPLE, model="hog")
    small = np.asarray(Image.fromarray(pixels).resize((round(width * scale), round(height * scale))))
    boxes = engine.face_locations(small, number_of_times_to_upsample=UPSAMPLE, model="hog")
    return [(round(t / scale), round(r / scale), round(b / scale), round(left / scale)) for t, r, b, left in boxes]


def analyse(engine: ModuleType, pixels: np.ndarray) -> FrameResult:
    locations = locate(engine, pixels)
    if len(locations) != 1:
        return FrameResult(faces=len(locations))
    encoding = engine.face_encodings(pixels, locations, num_jitters=1)[0]
    landmarks = engine.face_landmarks(pixels, locations, model="small")
    gray = np.asarray(Image.fromarray(pixels).convert("L").resize((64, 64)), dtype=np.float32)
    return FrameResult(faces=1, encoding=encoding, turn=head_turn(landmarks[0]) if landmarks else None, thumb=gray)


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
) -> Verdict:
    """Check 3-5 frames against the reference encoding. Reasons match FACE_REASONS."""
    if reference is None:
        return Verdict(False, "no_reference")
    results: list[FrameResult] = []
    for data in frames:
        try:
            pixels = prepare(data)
        except Exception:  # noqa: BLE001 - any undecodable frame
            return Verdict(False, "bad_image", frames=results)
        result = analyse(engine, pixels)
        results.append(result)
        if result.faces == 0:
            return Verdict(False, "no_face", frames=results)
        if result.faces > 1:
            return Verdict(False, "many_faces", frames=results)
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
