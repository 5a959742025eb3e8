"""Faces: the recognition engine (face_recognition on dlib), reference portraits (the identity registry or a
provincial service). Used by real-name verification, face consent (core.liveness) and authorizations."""
