"""Files that are not what a reader expects (binary bytes, a folder, an empty file, the wrong shape of
document) are one InputError naming the file, from every reader."""
from pathlib import Path

import pytest

from hwsim.base.errors import HwsimError, InputError
from hwsim.loading import catalog, measurements, routing, workload_yaml
from hwsim.loading.fields import load_yaml
from hwsim.loading.hf_config import from_hf_config
from hwsim.loading.plan_yaml import load_plan
from hwsim.loading.pricing_yaml import pricing
from hwsim.loading.scenario_yaml import load_scenario
from hwsim.loading.torch_trace import read_trace

GARBAGE = bytes(range(256)) * 4  # not UTF-8, not YAML, not JSON, not CSV
MIXTRAL = catalog.model("mixtral-8x7b")


def _folder(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


def _file(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


READERS = {
    "yaml": (".yaml", load_yaml),
    "model": (".yaml", lambda path: catalog.model(str(path))),
    "scenario": (".yaml", load_scenario),
    "plan": (".yaml", load_plan),
    "pricing": (".yaml", lambda path: pricing(str(path))),
    "workload": (".yaml", workload_yaml.load_workload),
    "measurements": (".csv", measurements.read),
    "hf-config": (".json", from_hf_config),
    "histogram": (".csv", lambda path: routing.empirical(path, MIXTRAL)),
    "torch-trace": (".json", lambda path: read_trace(path, "h200-sxm")),
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("content, expected", [
    (GARBAGE, "not UTF-8 text"),
    (b"", "empty|no columns|not a readable CSV|not a complete JSON file|not valid JSON"),
])
def test_binary_or_empty_files_are_one_error_naming_the_file(tmp_path, reader, content, expected):
    suffix, read = READERS[reader]
    path = _file(tmp_path, f"input{suffix}", content)
    with pytest.raises(HwsimError, match=expected) as error:
        read(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("reader", READERS)
def test_a_folder_is_one_error_naming_it(tmp_path, reader):
    suffix, read = READERS[reader]
    path = _folder(tmp_path, f"input{suffix}")
    with pytest.raises(HwsimError, match="is a folder") as error:
        read(path)
    assert str(error.value).startswith(str(path))


@pytest.mark.parametrize("text, expected", [
    ("- 1\n- 2\n", "expected a mapping at the top level; got a list"),
    ("just text\n", "expected a mapping at the top level; got text"),
    ("a: [1, 2\n", "not valid YAML"),
    ("[" * 5000 + "]" * 5000, "not valid YAML"),  # nested too deeply (PyYAML's own limit, or hwsim's)
    ("{a: " * 5000 + "1" + "}" * 5000, "not valid YAML"),
    ("[" * 100 + "]" * 100, "not valid YAML: nested too deeply"),  # deeper than any profile, within PyYAML's limit
])
def test_yaml_that_is_not_a_mapping_is_one_line(tmp_path, text, expected):
    path = _file(tmp_path, "profile.yaml", text.encode())
    with pytest.raises(InputError, match=expected) as error:
        load_yaml(path)
    assert "\n" not in str(error.value)


def test_a_json_list_is_not_a_hf_config(tmp_path):
    with pytest.raises(InputError, match=r"expected a JSON object \(a HuggingFace config.json\); got a list"):
        from_hf_config(_file(tmp_path, "config.json", b"[1, 2, 3]"))


def test_a_binary_trace_file_named_by_a_workload_is_an_error_naming_it(tmp_path):
    _file(tmp_path, "t.csv", GARBAGE)
    workload = _file(tmp_path, "w.yaml", b"arrival: {kind: trace, file: t.csv}\n")
    with pytest.raises(InputError, match=r"t.csv: not UTF-8 text"):
        workload_yaml.load_workload(workload)


def test_a_folder_named_as_a_lengths_file_is_an_error_naming_it(tmp_path):
    _folder(tmp_path, "lengths.txt")
    workload = _file(tmp_path, "w.yaml", b"arrival: {kind: offline}\nrequests: 2\n"
                                         b"prompt_tokens: {kind: empirical, file: lengths.txt}\n"
                                         b"output_tokens: {kind: fixed, value: 1}\n")
    with pytest.raises(InputError, match=r"lengths.txt: is a folder"):
        workload_yaml.load_workload(workload)


@pytest.mark.parametrize("text, expected", [
    ('{"traceEvents": [{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": "soon", "dur": 1}]}',
     "ts must be a finite number of microseconds"),
    ('{"traceEvents": [{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 0, "dur": 1, "args": '
     '{"Input Dims": [["a", 2], [2, 3]]}}]}', "unexpected input dims"),
    ('{"traceEvents": [{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 0, "dur": 1, "tid": [1], "args": '
     '{"Input Dims": [[1, 2], [2, 3]], "External id": {"a": 1}}}]}', None),
])
def test_odd_trace_events_are_errors_or_read_never_crashes(tmp_path, text, expected):
    path = _file(tmp_path, "trace.json", text.encode())
    if expected is None:
        assert read_trace(path, "h200-sxm")[0]["m"] == 1
        return
    with pytest.raises(HwsimError, match=expected):
        read_trace(path, "h200-sxm")


@pytest.mark.parametrize("rows, expected", [
    ("layer,expert,count\n0,0,nan\n", r"count: row 1: expected a number of at least 0, got nan"),
    ("layer,expert,count\n0,x,1\n", r"expert: row 1: expected a whole number of at least 0, got 'x'"),
    ("layer,expert,count\n0,1.5,1\n", r"expert: row 1: expected a whole number of at least 0, got 1.5"),
    ("layer,expert,count\n", r"no rows; expected one row per layer and expert"),
])
def test_bad_histogram_cells_name_their_row(tmp_path, rows, expected):
    with pytest.raises(InputError, match=expected):
        routing.empirical(_file(tmp_path, "hist.csv", rows.encode()), MIXTRAL)


def _laughs(depth: int = 9) -> str:
    """YAML aliases that nest into 10**depth elements: cheap to load, endless to print in full."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, depth)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("read, tail, expected", [
    (lambda path: catalog.model(str(path)), "id: tiny\nname: *a8\nhidden_size: 64\nnum_layers: 2\nnum_heads: 8\n"
     "intermediate_size: 128\nvocab_size: 1000\nmax_positions: 512\n", r"name: expected text; got \[\[\[\.\.\.\]"),
    (lambda path: pricing(str(path)), "sources: {a: *a8}\n", r"(sources.a: expected text|kind: missing required)"),
    (load_plan, "model: llama-3-8b\nworkload: *a8\n", r"workload: expected a preset name, a YAML path or a mapping"),
])
def test_nested_aliases_are_reported_in_one_short_line(tmp_path, read, tail, expected):
    path = _file(tmp_path, "profile.yaml", (_laughs() + tail).encode())
    with pytest.raises(InputError, match=expected) as error:
        read(path)
    assert len(str(error.value)) < 400
