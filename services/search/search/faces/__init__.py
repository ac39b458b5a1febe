"""Faces for the matching engine: an encoder behind an interface (the offline dlib
model by default) and embeddings in Postgres with pgvector (an HNSW index), so that a
new admission's photo finds the person's earlier records at every station."""

from search.faces.encoder import (
    DetectedFace,
    DlibFaceEncoder,
    FaceEncoder,
    FaceProblem,
    PhotoProblem,
    decode_photo,
    default_encoder,
    the_only_face,
)
from search.faces.store import (
    SAME_PERSON_DISTANCE,
    FaceNeighbour,
    TrailPerson,
    TrailStay,
    enrol_face,
    find_trail,
    nearest_faces,
    nearest_faces_query,
    photo_sha256,
    similarity,
    wandering_trail,
)

__all__ = [
    "SAME_PERSON_DISTANCE",
    "DetectedFace",
    "DlibFaceEncoder",
    "FaceEncoder",
    "FaceNeighbour",
    "FaceProblem",
    "PhotoProblem",
    "TrailPerson",
    "TrailStay",
    "decode_photo",
    "default_encoder",
    "enrol_face",
    "find_trail",
    "nearest_faces",
    "nearest_faces_query",
    "photo_sha256",
    "similarity",
    "the_only_face",
    "wandering_trail",
]
