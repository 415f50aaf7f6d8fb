"""Where the MediaPipe pose landmarker ``.task`` bundles are: :func:`resolve_model`.

Paths only: this module imports neither mediapipe nor cv2.

Notes
-----
A model is named ``lite``, ``full`` or ``heavy`` (the three BlazePose GHUM
landmark networks, smallest to largest) or given as a path to a ``.task``
file. A name resolves, first hit wins, to ``pose_landmarker_<name>.task`` in:

1. the folder named by the environment variable ``FORMCHECK_MODEL_DIR``
   (for example the official bundles downloaded from Google's model storage);
2. the files bundled in the package (``formcheck/models/``: lite and full);
3. the user cache, ``platformdirs.user_cache_dir("formcheck")/models``, where
   ``formcheck models --build heavy`` (:func:`build_model`) puts what it builds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MODEL_NAMES: tuple[str, ...] = ("lite", "full", "heavy")
BUNDLED_NAMES: tuple[str, ...] = ("lite", "full")
DEFAULT_MODEL = "full"
ENV_MODEL_DIR = "FORMCHECK_MODEL_DIR"

ModelSource = Literal["env", "bundled", "cache"]
MODEL_SOURCES: tuple[str, ...] = ("env", "bundled", "cache")

_ZIP_MAGIC = b"PK\x03\x04"


class ModelNotFoundError(ValueError):
    """A pose model could not be found; the message is one line saying what to do."""


class ModelBuildError(RuntimeError):
    """Building a bundle failed; the message is one line: what failed, what to do."""


def model_filename(name: str) -> str:
    """File name of a named bundle: ``pose_landmarker_<name>.task``."""
    _check_name(name)
    return f"pose_landmarker_{name}.task"


def build_command(name: str) -> str:
    """The CLI command that builds the named bundle into the user cache."""
    _check_name(name)
    return f"formcheck models --build {name}"


def bundled_model_dir() -> Path:
    """``formcheck/models/`` inside the installed package."""
    return Path(__file__).resolve().with_name("models")


def user_model_dir() -> Path:
    """``platformdirs.user_cache_dir("formcheck")/models``: where built bundles go."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("formcheck")) / "models"


@dataclass(frozen=True)
class ModelInfo:
    """One named model and where it resolved to.

    Notes
    -----
    name
        ``lite``, ``full`` or ``heavy``.
    path
        The resolved ``.task`` file, or None when the model is not available.
    size_bytes
        Size of ``path`` in bytes; None exactly when ``path`` is None.
    source
        ``env`` (``FORMCHECK_MODEL_DIR``), ``bundled`` (in the package) or
        ``cache`` (built into the user cache); None exactly when ``path`` is None.
    """

    name: str
    path: Path | None
    size_bytes: int | None
    source: ModelSource | None

    def __post_init__(self) -> None:
        if self.name not in MODEL_NAMES:
            raise ValueError(f"name: expected one of {', '.join(MODEL_NAMES)}, got {self.name!r}")
        if self.source is not None and self.source not in MODEL_SOURCES:
            raise ValueError(f"source: expected one of {', '.join(MODEL_SOURCES)} or None, got {self.source!r}")
        if (self.path is None) != (self.source is None) or (self.path is None) != (self.size_bytes is None):
            raise ValueError(
                "path, size_bytes, source: expected all set or all None, "
                f"got path={self.path}, size_bytes={self.size_bytes}, source={self.source}"
            )
        if self.path is not None:
            object.__setattr__(self, "path", Path(self.path))
        if self.size_bytes is not None and int(self.size_bytes) < 0:
            raise ValueError(f"size_bytes: expected >= 0, got {self.size_bytes}")

    @property
    def available(self) -> bool:
        return self.path is not None


def _check_name(name: str) -> None:
    if name not in MODEL_NAMES:
        raise ModelNotFoundError(
            f"unknown pose model {name!r}: expected {', '.join(MODEL_NAMES)} or a path to a .task file"
        )


def _check_bundle(path: Path, origin: str) -> Path:
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_ZIP_MAGIC))
    except OSError as exc:
        raise ModelNotFoundError(f"cannot read pose model {path} ({origin}): {exc.strerror or exc}") from exc
    if head != _ZIP_MAGIC:
        raise ModelNotFoundError(
            f"pose model {path} ({origin}) is not a .task bundle: expected a zip file, got {head!r} at its start"
        )
    return path


def _env_dir() -> Path | None:
    raw = os.environ.get(ENV_MODEL_DIR, "").strip()
    if not raw:
        return None
    folder = Path(raw).expanduser()
    if not folder.is_dir():
        raise ModelNotFoundError(
            f"{ENV_MODEL_DIR}={raw} is not a folder: expected a folder holding "
            f"pose_landmarker_{{{','.join(MODEL_NAMES)}}}.task files, or unset it"
        )
    return folder


def _find(name: str) -> tuple[Path, ModelSource] | None:
    filename = model_filename(name)
    candidates: list[tuple[Path, ModelSource]] = []
    env_dir = _env_dir()
    if env_dir is not None:
        candidates.append((env_dir / filename, "env"))
    candidates.append((bundled_model_dir() / filename, "bundled"))
    candidates.append((user_model_dir() / filename, "cache"))
    for path, source in candidates:
        if path.is_file():
            origin = f"from {ENV_MODEL_DIR}" if source == "env" else source
            return _check_bundle(path, origin), source
    return None


def _missing_message(name: str) -> str:
    filename = model_filename(name)
    where = user_model_dir() / filename
    if name in BUNDLED_NAMES:
        missing = f"{filename} is missing from the package ({bundled_model_dir()}) and from {where.parent}"
        remedy = f"reinstall formcheck or build it with `{build_command(name)}`"
    else:
        missing = f"{where} does not exist"
        remedy = f"build it with `{build_command(name)}`"
    return (
        f"pose model {name!r} not found: {missing}; {remedy}, "
        f"or set {ENV_MODEL_DIR} to a folder holding the official {filename}"
    )


def resolve_model(model: str | os.PathLike[str] = DEFAULT_MODEL) -> Path:
    """Path of the ``.task`` bundle for a model name or an explicit path.

    Parameters
    ----------
    model
        ``"lite"``, ``"full"`` (default) or ``"heavy"``; or a path to a
        ``.task`` file (any ``os.PathLike``, or a string ending in ``.task``
        or holding a path separator). Names are case-insensitive.

    Notes
    -----
    Names resolve through ``FORMCHECK_MODEL_DIR``, then the bundled files,
    then the user cache (see the module docstring). A set but non-existent
    ``FORMCHECK_MODEL_DIR`` is an error rather than silently skipped. Every
    resolved file is checked to start like a zip file, so a truncated or
    HTML "download" fails here with a clear message rather than in MediaPipe.

    Raises
    ------
    ModelNotFoundError
        Unknown name, missing file, or a file that is not a ``.task`` bundle.
        The message is one line naming the file and the command that builds it.
    """
    if isinstance(model, os.PathLike) or (
        isinstance(model, str) and (model.endswith(".task") or "/" in model or os.sep in model)
    ):
        path = Path(model).expanduser()
        if not path.is_file():
            what = "is a folder" if path.is_dir() else "does not exist"
            raise ModelNotFoundError(
                f"pose model file {path} {what}: expected a MediaPipe pose_landmarker .task file, "
                f"or one of {', '.join(MODEL_NAMES)}"
            )
        return _check_bundle(path, "given path")
    if not isinstance(model, str):
        raise ModelNotFoundError(f"pose model: expected a name or a path, got {type(model).__name__}")
    name = model.strip().lower()
    _check_name(name)
    found = _find(name)
    if found is None:
        raise ModelNotFoundError(_missing_message(name))
    return found[0]


def list_models() -> list[ModelInfo]:
    """Every named model and where it resolves (``path=None`` when unavailable).

    Raises
    ------
    ModelNotFoundError
        ``FORMCHECK_MODEL_DIR`` is set but not a folder, or a found file is
        not a ``.task`` bundle.
    """
    infos: list[ModelInfo] = []
    for name in MODEL_NAMES:
        found = _find(name)
        if found is None:
            infos.append(ModelInfo(name=name, path=None, size_bytes=None, source=None))
        else:
            path, source = found
            infos.append(ModelInfo(name=name, path=path, size_bytes=path.stat().st_size, source=source))
    return infos


def build_model(name: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Build ``pose_landmarker_<name>.task`` from registry packages; return its path.

    Parameters
    ----------
    name
        ``lite``, ``full`` or ``heavy``.
    cache_dir
        Output folder; None means :func:`user_model_dir`, where
        :func:`resolve_model` looks last. ``MODELS.json`` there records the
        sources and checksums.

    Notes
    -----
    Downloads ``mediapipe`` (a 36 MB wheel, with ``pip download``) and
    ``@mediapipe/pose`` (a 41 MB tarball, with ``npm pack``) unless already
    cached; see :mod:`formcheck.modelbuild`.

    Raises
    ------
    ModelNotFoundError
        Unknown name.
    ModelBuildError
        A client (pip, npm), a package (flatbuffers) or the network failed;
        the one-line message says what failed and what to do.
    """
    name = name.strip().lower()
    _check_name(name)
    from formcheck import modelbuild

    out_dir = Path(cache_dir).expanduser() if cache_dir is not None else user_model_dir()
    return modelbuild.build_model(name, out_dir)
