"""Guidance content and loader.

The no-verbatim checks compare guidance.toml with the trainer's article. The
article lives outside the repo (../shared/seed); tests/data/article_shingles.txt
keeps sha256 hashes of its normalised 8-word shingles so the main check runs
without it. Regenerate the hashes when the article changes:

    PYTHONPATH=. /work/venv/bin/python tests/test_guidance.py --write-shingles
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
import subprocess
import sys
import tomllib
import unicodedata
from pathlib import Path

import pytest

from formcheck import guidance as gmod
from formcheck.guidance import FAULT_CODES, GuidanceError, guidance_from_dict, load_guidance

REPO = Path(__file__).resolve().parents[1]
GUIDANCE_TOML = REPO / "formcheck" / "config" / "guidance.toml"
ARTICLE = REPO.parent / "shared" / "seed" / "back-pain-after-workout-article.txt"
SHINGLE_FILE = REPO / "tests" / "data" / "article_shingles.txt"
SHINGLE_WORDS = 8
MIN_SENTENCE_WORDS = 4

ARTICLE_CAUSES = (
    "technique",
    "weak_core",
    "weak_posterior_chain",
    "no_warmup",
    "too_much_too_soon",
    "skipped_recovery",
    "posture_outside_gym",
)


def words(text: str) -> list[str]:
    """Lower-case words with punctuation, apostrophes and dashes dropped."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"['\u2018\u2019]", "", text)
    return re.findall(r"[a-z0-9]+", text)


def shingles(ws: list[str], n: int = SHINGLE_WORDS) -> set[str]:
    return {" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)}


def shingle_hash(shingle: str) -> str:
    return hashlib.sha256(shingle.encode("utf-8")).hexdigest()


def hashed_shingles(text: str) -> set[str]:
    return {shingle_hash(s) for s in shingles(words(text))}


def sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?;])\s+|\n+", text)
    return [" ".join(ws) for ws in map(words, parts) if len(ws) >= MIN_SENTENCE_WORDS]


def read_shingle_file(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}


def shingle_file_text(article: str) -> str:
    header = (
        f"# sha256 of each normalised {SHINGLE_WORDS}-word shingle of "
        f"../shared/seed/{ARTICLE.name} (hashes only, never the text).\n"
        "# Normalised: NFKC, lower case, apostrophes removed, words = runs of [a-z0-9].\n"
        "# Regenerate: PYTHONPATH=. python tests/test_guidance.py --write-shingles\n"
    )
    return header + "".join(h + "\n" for h in sorted(hashed_shingles(article)))


def copied_runs(text: str, article_hashes: set[str]) -> list[str]:
    """The 8-word runs of ``text`` whose hash is one of the article's."""
    return sorted(s for s in shingles(words(text)) if shingle_hash(s) in article_hashes)


@pytest.fixture(scope="module")
def guidance() -> gmod.Guidance:
    return load_guidance()


@pytest.fixture(scope="module")
def raw() -> dict:
    with GUIDANCE_TOML.open("rb") as fh:
        return tomllib.load(fh)


@pytest.fixture(scope="module")
def article() -> str:
    if not ARTICLE.is_file():
        pytest.skip(f"article not available at {ARTICLE}")
    return ARTICLE.read_text(encoding="utf-8")


def test_fault_codes_are_the_agreed_ten_shared_with_rules():
    from formcheck import faults

    assert gmod.FAULT_CODES is faults.FAULT_CODES
    assert FAULT_CODES == (
        "rounded_back",
        "hips_rise_early",
        "excessive_forward_lean",
        "shallow_depth",
        "knee_cave",
        "heels_lift",
        "hyperextension_lockout",
        "bar_drift",
        "hips_too_low_start",
        "incomplete_lockout",
    )


def test_faults_load_in_fault_code_order(guidance):
    assert tuple(fg.code for fg in guidance.faults) == FAULT_CODES


def test_causes_are_the_articles_seven_in_order(guidance):
    assert tuple(c.id for c in guidance.causes) == ARTICLE_CAUSES


@pytest.mark.parametrize("code", FAULT_CODES)
def test_fault_guidance_is_complete(guidance, code):
    fg = guidance.fault(code)
    assert fg.title and fg.why
    assert fg.lifts and set(fg.lifts) <= {"squat", "deadlift"}
    assert 2 <= len(fg.cue.split()) <= 4
    assert 1 <= len(re.findall(r"[.!?](\s|$)", fg.why)) <= 2, fg.why
    assert len(fg.causes) >= 4
    for fc in fg.causes:
        assert fc.note, f"{code}/{fc.cause.id} has no fault-specific note"
        assert fc.fixes, f"{code}/{fc.cause.id} has no fixes"
    assert fg.causes[0].cause.id in {"technique", "weak_posterior_chain"}


def test_every_referenced_cause_and_fix_exists_in_the_raw_file(raw):
    causes = raw["causes"]
    for code, fault in raw["faults"].items():
        for link in fault["causes"]:
            assert link["cause"] in causes, f"{code}: unknown cause {link['cause']}"
            fix_ids = {f["id"] for f in causes[link["cause"]]["fixes"]}
            assert set(link.get("fixes", [])) <= fix_ids, f"{code}/{link['cause']}"


def test_every_cause_is_used_by_some_fault(guidance):
    used = {fc.cause.id for fg in guidance.faults for fc in fg.causes}
    assert used == set(ARTICLE_CAUSES)


@pytest.mark.parametrize(
    "cause_id, specifics",
    [
        ("technique", ["slow", "light", "certified trainer", "record your sets"]),
        ("weak_core", ["plank", "dead bug", "bird-dog", "glute bridge", "2-3", "sit-ups", "leg raises"]),
        (
            "weak_posterior_chain",
            ["glute bridge", "hip thrust", "romanian deadlift", "step-up", "hamstring curl"],
        ),
        (
            "no_warmup",
            ["5-10 minutes", "leg swings", "arm circles", "torso twists", "brisk walking", "cycling",
             "jump rope", "hips, spine and shoulders"],
        ),
        ("too_much_too_soon", ["progressive overload", "small steps", "rest or recovery day", "fatigue"]),
        ("skipped_recovery", ["child's pose", "cat-cow", "downward dog", "sleep", "water", "food"]),
        (
            "posture_outside_gym",
            ["shoulders back", "rows", "face pulls", "back extensions", "chest and hips", "yoga", "pilates"],
        ),
    ],
    ids=ARTICLE_CAUSES,
)
def test_cause_fixes_carry_the_articles_specifics(guidance, cause_id, specifics):
    cause = guidance.cause(cause_id)
    assert cause.name and cause.summary
    text = " ".join(f.text() for f in cause.fixes).lower()
    missing = [s for s in specifics if s not in text]
    assert not missing, f"{cause_id}: fixes do not mention {missing}"


@pytest.mark.parametrize(
    "code, measured, limit, measure, expected",
    [
        (
            "excessive_forward_lean", 52.4, 45, "trunk_lean_max",
            "Most forward torso lean: 52°, over our limit of 45° (0° = torso upright).",
        ),
        (
            "shallow_depth", 0.123, 0.0, "depth_min",
            "Hip crease height above the knee at the lowest point: 0.12 thigh lengths, over our limit of "
            "0 thigh lengths (0 = thighs parallel to the floor).",
        ),
        (
            "bar_drift", 0.414, 0.35, "bar_drift_from_start",
            "Forward drift of the bar (at the hands) from the set-up: 0.41 thigh lengths, over our limit of "
            "0.35 thigh lengths (0 = the bar went straight up from where it was set).",
        ),
        (
            "hips_rise_early", 8.9, 8.0, "hip_rise_trunk_tip",
            "Forward torso tip while the hips rose: 9°, over our limit of 8° "
            "(0° = the chest rose with the hips).",
        ),
        (
            "knee_cave", 0.624, 0.75, "knee_ankle_ratio_min",
            "Knee gap at its narrowest: 0.62 of the ankle gap, under our minimum of 0.75 of the ankle gap "
            "(1 = knees straight above the ankles).",
        ),
        (
            "heels_lift", 0.2, 0.15, "heel_rise",
            "Heel rise above its usual height: 0.20 foot lengths, over our limit of 0.15 foot lengths "
            "(0 = heel at its usual height).",
        ),
        (
            "incomplete_lockout", 33.2, 25, "top_trunk_lean",
            "Torso lean from vertical at the top: 33°, over our limit of 25° (0° = standing fully upright).",
        ),
        (
            "hips_too_low_start", 21.45, 30, "start_trunk_lean",
            "Torso lean from vertical in the set position: 21°, under our minimum of 30° "
            "(0° = torso upright; 90° = horizontal).",
        ),
        (
            "rounded_back", 16.2, 3, "head_drop_max",
            "Head drop below the hip-to-shoulder line under load: 16°, over our limit of 3° "
            "(0° = head held as when standing tall).",
        ),
        (
            "excessive_forward_lean", 52.3, 52, "trunk_lean_max",
            "Most forward torso lean: 52°, just over our limit of 52° (0° = torso upright).",
        ),
    ],
    ids=["lean-deg", "depth-thigh", "drift-thigh", "hips-tip-deg", "knees-ratio", "heels-foot", "lockout-lean",
         "set-lean-below", "head-drop", "rounds-to-limit"],
)
def test_describe_formats_exactly(code, measured, limit, measure, expected):
    assert gmod.describe(code, measured, limit, measure) == expected


@pytest.mark.parametrize("code", FAULT_CODES)
def test_describe_shows_measured_and_limit(guidance, code):
    measure = {"rounded_back": "head_drop_max", "hips_rise_early": "hip_rise_trunk_tip"}.get(code, "trunk_lean_max")
    text = guidance.describe(code, 37, 25, measure)
    assert "{" not in text and "}" not in text
    assert guidance.describe(code, 77, 25, measure) != text, "measured is not shown"
    assert guidance.describe(code, 37, 65, measure) != text, "limit is not shown"


def test_describe_rejects_an_undefined_measure():
    with pytest.raises(GuidanceError, match=r"describe\(rounded_back\): .*expected a \[measures\.nope\] table"):
        gmod.describe("rounded_back", 10, 5, "nope")


@pytest.mark.parametrize("bad", [math.nan, math.inf, "12", True], ids=["nan", "inf", "str", "bool"])
def test_describe_rejects_non_finite_or_non_numbers(bad):
    with pytest.raises(GuidanceError, match=r"describe\(rounded_back\): expected finite measured"):
        gmod.describe("rounded_back", bad, 10, "head_drop_max")


@pytest.mark.parametrize(
    "units, shown",
    [
        ("deg", "°"), ("degrees", "°"), ("°", "°"), ("ratio", "×"), ("thigh", " thigh lengths"),
        ("foot", " foot lengths"), ("leg", " leg lengths"), ("cm", " cm"), ("", ""),
    ],
    ids=["deg", "degrees", "symbol", "ratio", "thigh", "foot", "leg", "other", "none"],
)
def test_units_display(units, shown):
    assert gmod.units_display(units) == shown


@pytest.mark.parametrize(
    "code, cue",
    [
        ("excessive_forward_lean", "chest up"),
        ("hips_rise_early", "hips and shoulders together"),
        ("shallow_depth", "go deeper"),
        ("knee_cave", "knees out"),
        ("bar_drift", "bar close"),
        ("hyperextension_lockout", "squeeze glutes, stand tall"),
    ],
    ids=lambda v: v if v in FAULT_CODES else None,
)
def test_cue(code, cue):
    assert gmod.cue(code) == cue


@pytest.mark.parametrize(
    "codes, expected",
    [
        (["knee_cave", "rounded_back"], ["knee_cave", "rounded_back"]),
        (["bar_drift", "bar_drift", "heels_lift", "bar_drift"], ["bar_drift", "heels_lift"]),
        ([], []),
    ],
    ids=["order-kept", "deduplicated", "empty"],
)
def test_for_faults(guidance, codes, expected):
    assert [fg.code for fg in guidance.for_faults(codes)] == expected


@pytest.mark.parametrize("call", ["for_faults", "causes_ranked", "cue"])
def test_unknown_fault_code_is_an_error(guidance, call):
    fn = getattr(guidance, call)
    arg = "slouching" if call == "cue" else ["rounded_back", "slouching"]
    with pytest.raises(GuidanceError, match="unknown fault code 'slouching'"):
        fn(arg)


def test_causes_ranked_for_one_fault_follows_its_relevance_order(guidance):
    fg = guidance.fault("knee_cave")
    ranked = guidance.causes_ranked(["knee_cave"])
    assert [c.id for c, _ in ranked] == [fc.cause.id for fc in fg.causes]
    assert [s for _, s in ranked] == pytest.approx([1 / (i + 1) for i in range(len(fg.causes))])


@pytest.mark.parametrize(
    "codes, top, top_score",
    [
        (["rounded_back", "bar_drift"], "technique", 1.0),
        (["knee_cave", "incomplete_lockout"], "weak_posterior_chain", 1.0),
        (["knee_cave", "rounded_back"], "technique", 0.75),
        (["knee_cave", "knee_cave"], "weak_posterior_chain", 1.0),
    ],
    ids=["both-technique", "both-hips", "mixed", "duplicates-count-once"],
)
def test_causes_ranked_top_cause(guidance, codes, top, top_score):
    ranked = guidance.causes_ranked(codes)
    assert ranked[0][0].id == top
    assert ranked[0][1] == pytest.approx(top_score)
    scores = [s for _, s in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s <= 1 for s in scores)


def test_causes_ranked_empty(guidance):
    assert guidance.causes_ranked([]) == []


@pytest.mark.parametrize(
    "item, pattern",
    [
        ("sharp or stabbing pain", r"sharp or stabbing"),
        ("pain travelling down the legs", r"(radiat|shoot)\w* .*leg"),
        ("numbness", r"numb"),
        ("tingling", r"tingl"),
        ("weakness", r"weak"),
        ("worse after 24-48 hours", r"worse 24-48 hours"),
        ("lasting more than a few days", r"few days"),
        ("interfering with normal movement", r"moving normally"),
    ],
    ids=lambda v: v.replace(" ", "-") if " " in v or v.isalpha() else None,
)
def test_red_flags_include_each_article_item(item, pattern):
    flags = gmod.red_flags()
    assert any(re.search(pattern, f.lower()) for f in flags), f"red flags miss: {item}"


def test_red_flag_notice_says_stop_and_see_a_professional():
    notice = gmod.red_flag_notice().lower()
    assert "stop training" in notice
    assert "physical therapist" in notice and "doctor" in notice
    assert all(f.lower() in notice for f in gmod.red_flags())


def test_disclaimer_says_not_medical_advice():
    assert "not medical advice" in gmod.disclaimer().lower()


def test_credit_names_the_article(guidance):
    line = gmod.credit()
    assert '"Back Pain After Workout"' in line
    assert "October 17, 2025" in line
    assert "trainer" in line and "paraphrased" in line
    assert guidance.source.date == "2025-10-17"
    assert ARTICLE.name in guidance.source.source


def test_default_guidance_is_cached_and_path_loads_fresh():
    assert load_guidance() is load_guidance()
    fresh = load_guidance(GUIDANCE_TOML)
    assert fresh is not load_guidance()
    assert fresh == load_guidance()


def _set(path: str, value):
    def mutate(data: dict) -> None:
        *parents, last = path.split(".")
        node = data
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return mutate


_DELETE = object()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (_set("schema", 2), r"^g\.toml: expected schema = 1, got 2$"),
        (_set("faults.knee_cave.cue", "out"), r"^g\.toml: fault knee_cave: expected cue of 2-4 words, got 'out'$"),
        (
            _set("faults.knee_cave.cue", "push your knees out wide"),
            r"^g\.toml: fault knee_cave: expected cue of 2-4 words",
        ),
        (_set("faults.knee_cave.lifts", ["bench"]), r"^g\.toml: fault knee_cave: expected lifts among"),
        (_set("faults.knee_cave.title", ""), r"^g\.toml: fault knee_cave: expected 'title' to be non-empty text"),
        (_set("faults.knee_cave.why", _DELETE), r"^g\.toml: fault knee_cave: expected 'why' .*got None$"),
        # what we saw comes from the measure's definition (measures.toml), never from a second per-fault sentence
        (_set("faults.knee_cave.seen", "Knees {measured} in"), r"fault knee_cave: expected only keys .*got \['seen'\]$"),
        (_set("faults.knee_cave.units", "ratio"), r"fault knee_cave: expected only keys .*got \['units'\]$"),
        (_set("faults.knee_cave.colour", "red"), r"fault knee_cave: expected only keys .*got \['colour'\]$"),
        (_set("faults.knee_cave.causes.0.cause", "bad_luck"), r"fault knee_cave: expected a cause among .*'bad_luck'"),
        (
            _set("faults.knee_cave.causes.1.fixes", ["nope"]),
            r"fault knee_cave: cause technique: expected fixes among .*\['nope'\]$",
        ),
        (_set("faults.knee_cave.causes", []), r"fault knee_cave: expected 'causes' to be a non-empty array"),
        (_set("faults.knee_cave", _DELETE), r"^g\.toml: faults: expected exactly the codes .*'missing': \['knee_cave'\]"),
        (_set("faults.slouch", {}), r"^g\.toml: faults: expected exactly the codes .*'unknown': \['slouch'\]"),
        (_set("causes.weak_core.fixes.0.id", "skip_irritating_ab_work"), r"^g\.toml: cause weak_core: expected unique fix ids"),
        (
            _set("causes.weak_core.fixes.0.exercises", ["plank", ""]),
            r"^g\.toml: cause weak_core fix core_stability: expected 'exercises' to hold only non-empty text",
        ),
        (_set("red_flags.items", []), r"^g\.toml: red_flags: expected 'items' to be a non-empty list"),
        (_set("credit.line", 3), r"^g\.toml: credit: expected 'line' to be non-empty text, got 3$"),
        (_set("disclaimer", _DELETE), r"^g\.toml: expected 'disclaimer' to be non-empty text, got None$"),
    ],
    ids=[
        "schema", "cue-short", "cue-long", "lift", "empty-title", "missing-why", "no-per-fault-sentence",
        "no-per-fault-units", "unknown-key", "unknown-cause",
        "unknown-fix", "no-causes", "missing-fault", "extra-fault", "duplicate-fix", "empty-exercise",
        "no-red-flags", "credit-not-text", "no-disclaimer",
    ],
)
def test_invalid_guidance_is_rejected_with_one_line(raw, mutate, message):
    data = copy.deepcopy(raw)
    mutate(data)
    with pytest.raises(GuidanceError, match=message) as err:
        guidance_from_dict(data, source="g.toml")
    assert "\n" not in str(err.value)


def test_invalid_toml_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("schema = \n", encoding="utf-8")
    with pytest.raises(GuidanceError, match=r"^broken\.toml: expected valid TOML"):
        load_guidance(bad)


def test_unmodified_raw_guidance_is_valid(raw):
    assert guidance_from_dict(copy.deepcopy(raw)) == load_guidance()


def test_guidance_imports_no_heavy_libraries():
    code = (
        "import sys, formcheck.guidance as g; g.load_guidance(); "
        "bad = [m for m in ('cv2', 'mediapipe', 'streamlit', 'numpy') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == ""


ARTICLE_TOY = "Keep the bar close to your shins and drive through the whole foot every single rep."


@pytest.mark.parametrize(
    "text, flagged",
    [
        ("keep the bar close to your shins and drive through", True),
        ("KEEP the bar, close to your shins -- and drive!", True),
        ("keep the bar close to your shins", False),
        ("keep the bar near to your shins and drive through", False),
        ("", False),
    ],
    ids=["8-word-run", "case-and-punctuation", "7-words", "one-word-changed", "empty"],
)
def test_copy_detector_on_a_toy_article(text, flagged):
    assert bool(copied_runs(text, hashed_shingles(ARTICLE_TOY))) is flagged


def test_committed_shingle_hashes_look_like_sha256():
    hashes = read_shingle_file(SHINGLE_FILE)
    assert len(hashes) > 1000
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)


def test_guidance_has_no_8_word_run_from_the_article():
    runs = copied_runs(GUIDANCE_TOML.read_text(encoding="utf-8"), read_shingle_file(SHINGLE_FILE))
    assert not runs, f"guidance.toml copies the article: {runs}"


def test_committed_shingle_hashes_match_the_article(article):
    assert read_shingle_file(SHINGLE_FILE) == hashed_shingles(article)


def test_guidance_contains_no_sentence_of_the_article(article):
    text = " " + " ".join(words(GUIDANCE_TOML.read_text(encoding="utf-8"))) + " "
    found = [s for s in sentences(article) if f" {s} " in text]
    assert not found, f"guidance.toml repeats article sentences: {found}"


def test_sentence_splitter_finds_the_articles_sentences(article):
    assert len(sentences(article)) > 100


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-shingles"]:
        sys.exit("usage: python tests/test_guidance.py --write-shingles")
    SHINGLE_FILE.parent.mkdir(parents=True, exist_ok=True)
    SHINGLE_FILE.write_text(shingle_file_text(ARTICLE.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {SHINGLE_FILE}")
