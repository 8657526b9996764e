"""A study names its question, its baseline and its what-ifs in one file; each what-if is read as a
what-if file would be, and every error points at its place in the study."""
from pathlib import Path

import pytest

from hwsim.base.errors import InputError
from hwsim.loading import scenario_yaml, study_yaml
from hwsim.loading.whatif import load_whatif
from tests.output.invoke import run

WHATIF = Path(__file__).parents[1] / "data" / "whatif"
REPORTS = Path(__file__).parents[2] / "reports"


def study(tmp_path: Path, text: str) -> study_yaml.Study:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return study_yaml.load_study(path)


def test_an_inline_what_if_is_the_same_as_its_file():
    loaded = study_yaml.load_study(WHATIF / "study.yaml")
    baseline = loaded.baseline
    assert loaded.question.startswith("Does fp8 on an H200")
    assert [w.name for w in loaded.whatifs] == ["fp8 on H200", "int4"]
    assert loaded.whatifs[0] == load_whatif(WHATIF / "fp8.yaml", baseline)
    assert baseline.name == "baseline" and baseline.slo.ttft_s == pytest.approx(0.3)


def test_a_baseline_may_be_a_scenario_file_beside_the_study(tmp_path):
    (tmp_path / "base.yaml").write_text((WHATIF / "baseline.yaml").read_text())
    loaded = study(tmp_path, "question: q?\nbaseline: base.yaml\nwhatifs: [{name: fp8, changes: {dtype: fp8}}]\n")
    assert loaded.baseline == scenario_yaml.load_scenario(tmp_path / "base.yaml")
    assert loaded.whatifs[0].precision.dtype == "fp8"


@pytest.mark.parametrize("text, field, expected", [
    ("baseline: base.yaml\nwhatifs: [{name: a, changes: {dtype: fp8}}]\n", "question", "required"),
    ("question: q?\nbaseline: base.yaml\n", "whatifs", "missing required field"),
    ("question: q?\nbaseline: base.yaml\nwhatifs: []\n", "whatifs", "non-empty list"),
    ("question: q?\nbaseline: 3\nwhatifs: [{name: a, changes: {dtype: fp8}}]\n", "baseline", "scenario file"),
    ("question: q?\nbaseline: base.yaml\nwhatifs: [7]\n", "whatifs[0]", "what-if file name or a mapping"),
    ("question: q?\nbaseline: base.yaml\nwhatifs: [{name: a, changes: {dtype: fp8}}, {name: a, changes: {count: 2}}]\n",
     "whatifs", "two scenarios are named 'a'"),
    ("question: q?\nbaseline: base.yaml\nwhatifs: [{name: a, changes: {dtype: bf16}}]\n", "whatifs[0].changes",
     "changes nothing"),
    ("question: q?\nbaseline: base.yaml\nwhatifs: [{name: a, changes: {colour: red}}]\n", "whatifs[0].changes.colour",
     "cannot be changed"),
    ("question: q?\nbaseline: base.yaml\nwhatifs: [{name: a, changes: {dtype: fp8}}]\nextra: 1\n", "extra",
     "unknown field"),
])
def test_a_bad_study_names_the_field(tmp_path, text, field, expected):
    (tmp_path / "base.yaml").write_text((WHATIF / "baseline.yaml").read_text())
    with pytest.raises(InputError) as caught:
        study(tmp_path, text)
    assert caught.value.field == field and expected in str(caught.value)


def test_report_renders_a_study_and_refuses_extra_what_ifs(capsys, tmp_path):
    code, out, err = run(capsys, "report", str(WHATIF / "study.yaml"), "--no-sensitivity", "-o",
                         str(tmp_path / "s.html"))
    assert code == 0 and "baseline vs fp8 on H200, int4" in out and (tmp_path / "s.html").exists()
    code, out, err = run(capsys, "report", str(WHATIF / "study.yaml"), str(WHATIF / "fp8.yaml"), "-o",
                         str(tmp_path / "t.html"))
    assert code == 2 and "is a study" in err and len(err.strip().splitlines()) == 1


def test_every_shipped_study_loads():
    shipped = sorted(REPORTS.glob("*.yaml"))
    assert len(shipped) >= 6
    for path in shipped:
        loaded = study_yaml.load_study(path)
        assert loaded.question.endswith("?") and loaded.whatifs, path.name
