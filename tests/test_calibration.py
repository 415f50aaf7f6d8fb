"""formcheck/config/calibration.toml: the one place of the analysis core's thresholds, checked on load."""

from __future__ import annotations

import re
from dataclasses import MISSING, fields, replace
from importlib import resources

import pytest

from formcheck.barcheck import BarCheckParams
from formcheck.cleaning import CleaningParams, LiveFilterParams
from formcheck.live import LIVE_CALIBRATION_KEYS, LiveConfig, live_calibration, packaged_live_calibration
from formcheck.metrics import MetricParams
from formcheck.pose import PoseParams
from formcheck.reps import RepParams
from formcheck.sanity import SanityParams
from formcheck.settings import CALIBRATION_FILE, params_from_toml, read_packaged
from formcheck.spine import SpineParams
from formcheck.views import LiftParams, ViewParams

#: (settings class, its table in calibration.toml)
CLASSES = [
    (CleaningParams, "cleaning"),
    (LiveFilterParams, "live_filter"),
    (RepParams, "reps"),
    (ViewParams, "views"),
    (LiftParams, "lift_recognition"),
    (MetricParams, "metrics"),
    (PoseParams, "pose"),
    (SanityParams, "sanity"),
]
CLASS_IDS = [table for _, table in CLASSES]
TABLES = CLASS_IDS + ["live"]


def _load(cls: type, table: str, data: dict) -> object:
    """Load one table of a parsed calibration.toml, the way the packaged loader does."""
    if cls is LiveConfig:
        return LiveConfig(**live_calibration(data))
    return params_from_toml(cls, data, table)


ALL = CLASSES + [(LiveConfig, "live")]
EVERY_KEY = [(cls, table, key) for cls, table in ALL for key in read_packaged()[table]]


def test_calibration_file_has_exactly_the_tables() -> None:
    assert sorted(read_packaged()) == sorted(TABLES)


@pytest.mark.parametrize(("cls", "table"), CLASSES, ids=CLASS_IDS)
def test_packaged_loads_and_is_shared(cls: type, table: str) -> None:
    got = cls.packaged()
    assert isinstance(got, cls)
    assert got is cls.packaged()  # read once
    assert got == params_from_toml(cls, read_packaged(), table)
    assert sorted(read_packaged()[table]) == sorted(f.name for f in fields(cls))


#: Every settings dataclass whose values come from one TOML table: calibration.toml's, spine.toml's
#: [spine] and deadlift.toml's [bar_check].
TOML_ONLY = [cls for cls, _ in CLASSES] + [SpineParams, BarCheckParams]


@pytest.mark.parametrize("cls", TOML_ONLY, ids=[c.__name__ for c in TOML_ONLY])
def test_params_have_no_defaults(cls: type) -> None:
    """The numbers live in their TOML file only: the dataclass repeats none of them."""
    with_defaults = [f.name for f in fields(cls) if f.default is not MISSING or f.default_factory is not MISSING]
    assert with_defaults == []
    with pytest.raises(TypeError):
        cls()


def test_live_config_timings_come_from_the_live_table() -> None:
    cfg = LiveConfig()
    table = read_packaged()["live"]
    assert sorted(table) == sorted(LIVE_CALIBRATION_KEYS)
    assert dict(packaged_live_calibration()) == table
    assert {k: getattr(cfg, k) for k in LIVE_CALIBRATION_KEYS} == table
    by_name = {f.name: f for f in fields(LiveConfig)}
    # no number written in code: each timing (and the nested params) comes from the packaged file
    for name in (*LIVE_CALIBRATION_KEYS, "filter", "rep_params", "min_visibility"):
        assert by_name[name].default is MISSING and by_name[name].default_factory is not MISSING, name
    assert (cfg.filter, cfg.rep_params) == (LiveFilterParams.packaged(), RepParams.packaged())
    assert cfg.min_visibility == CleaningParams.packaged().min_visibility


def test_every_value_has_a_comment_above_it() -> None:
    """A coach tuning a value reads what it does right above it."""
    text = (resources.files("formcheck") / "config" / CALIBRATION_FILE).read_text(encoding="utf-8")
    lines = text.splitlines()
    keys = 0
    for i, line in enumerate(lines):
        if re.match(r"^[a-z_]+ = ", line):
            keys += 1
            assert i > 0 and lines[i - 1].startswith("#"), f"no comment above {line!r}"
    assert keys == len(EVERY_KEY)


@pytest.mark.parametrize(("cls", "table", "key"), EVERY_KEY, ids=[f"{t}.{k}" for _, t, k in EVERY_KEY])
def test_missing_key_names_table_and_key(cls: type, table: str, key: str) -> None:
    data = read_packaged()
    del data[table][key]
    with pytest.raises(ValueError, match=re.escape(f"{CALIBRATION_FILE}: {table}: missing keys ['{key}']")):
        _load(cls, table, data)


@pytest.mark.parametrize(("cls", "table"), ALL, ids=TABLES)
def test_unknown_key_names_table_and_key(cls: type, table: str) -> None:
    data = read_packaged()
    data[table]["max_gap_mss"] = 1.0  # a typo must not pass silently
    with pytest.raises(ValueError, match=re.escape(f"{CALIBRATION_FILE}: {table}: unknown keys ['max_gap_mss']")):
        _load(cls, table, data)


@pytest.mark.parametrize(("cls", "table"), ALL, ids=TABLES)
def test_missing_table_is_named(cls: type, table: str) -> None:
    data = read_packaged()
    del data[table]
    with pytest.raises(ValueError, match=re.escape(f"{CALIBRATION_FILE}: {table}: expected a [{table}] table, got None")):
        _load(cls, table, data)


BAD_TYPES = [
    (RepParams, "reps", "min_rom_norm", "long", "expected a number, got 'long'"),
    (CleaningParams, "cleaning", "filter_order", 4.5, "expected a whole number, got 4.5"),
    (CleaningParams, "cleaning", "repair_swaps", "yes", "expected true or false, got 'yes'"),
    (CleaningParams, "cleaning", "cutoff_hz", True, "expected a number, got True"),
    (MetricParams, "metrics", "oblique_source", 1, "expected a string, got 1"),
    (LiftParams, "lift_recognition", "weights", "3,1,1,0.5", "expected an array of numbers, got '3,1,1,0.5'"),
    (ViewParams, "views", "hidden_weight", [1.0], "expected a number, got [1.0]"),
    (LiveConfig, "live", "cue_hold_ms", "2.5 s", "expected a number, got '2.5 s'"),
]


@pytest.mark.parametrize(("cls", "table", "key", "value", "message"), BAD_TYPES,
                         ids=[f"{t}.{k}" for _, t, k, _, _ in BAD_TYPES])
def test_wrong_type_names_table_and_key(cls: type, table: str, key: str, value: object, message: str) -> None:
    data = read_packaged()
    data[table][key] = value
    with pytest.raises(ValueError, match=re.escape(f"{CALIBRATION_FILE}: {table}.{key}: {message}")):
        _load(cls, table, data)


#: One out-of-range value per table: the class's own ``__post_init__`` check fires, from the file and in code.
BAD_VALUES = [
    (CleaningParams, "cleaning", {"min_visibility": 1.5}, "min_visibility: expected a score in [0, 1], got 1.5"),
    (LiveFilterParams, "live_filter", {"beta": -0.1}, "beta: expected a finite number >= 0, got -0.1"),
    (RepParams, "reps", {"min_rom_norm": 0.0}, "min_rom_norm: expected a value > 0, got 0.0"),
    (RepParams, "reps", {"swing_norm": 0.3}, "swing_norm: expected <= min_rom_norm (0.15), got 0.3"),
    (ViewParams, "views", {"world_weight": 2.0}, "world_weight: expected 0..1, got 2.0"),
    (LiftParams, "lift_recognition", {"weights": [1.0, -1.0, 0.0, 0.0]},
     "weights: expected 4 non-negative weights, got (1.0, -1.0, 0.0, 0.0)"),
    (MetricParams, "metrics", {"oblique_source": "both"},
     "oblique_source: expected 'hybrid', 'image' or 'world', got 'both'"),
    (LiveConfig, "live", {"history_ms": 1000.0}, "history_ms: expected >= metrics_window_ms (3000.0), got 1000.0"),
    (SanityParams, "sanity", {"min_wrong_frac": 0.0}, "min_wrong_frac: expected a share in (0, 1], got 0.0"),
]
BAD_VALUE_IDS = [f"{t}.{next(iter(kw))}" for _, t, kw, _ in BAD_VALUES]


@pytest.mark.parametrize(("cls", "table", "change", "message"), BAD_VALUES, ids=BAD_VALUE_IDS)
def test_post_init_checks_fire_from_the_file(cls: type, table: str, change: dict, message: str) -> None:
    data = read_packaged()
    data[table].update(change)
    with pytest.raises(ValueError, match=re.escape(f"{CALIBRATION_FILE}: {table}.{message}")):
        _load(cls, table, data)


@pytest.mark.parametrize(("cls", "table", "change", "message"), BAD_VALUES, ids=BAD_VALUE_IDS)
def test_post_init_checks_fire_in_code(cls: type, table: str, change: dict, message: str) -> None:
    base = LiveConfig() if cls is LiveConfig else cls.packaged()
    change = {k: tuple(v) if isinstance(v, list) else v for k, v in change.items()}
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        replace(base, **change)
