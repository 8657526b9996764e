"""Start-up: the command line's parser imports none of the heavy modules, which load only once a
command runs. Checked by what a fresh interpreter has imported, never by timing."""
import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "plotly", "distributed", "dask", "tqdm", "hwsim.output.report", "hwsim.output.plan_report",
         "hwsim.output.html_page", "hwsim.output.commands", "hwsim.output.planning_commands", "hwsim.api",
         "hwsim.serving.simulate")


def _imported(code: str) -> set[str]:
    """The modules of `HEAVY` a fresh interpreter has imported after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout.splitlines()[-1])) & set(HEAVY)


def test_importing_the_cli_imports_no_heavy_module():
    assert _imported("import hwsim.output.cli") == set()


@pytest.mark.parametrize("argv", [["--help"], ["simulate", "--help"], ["report", "--help"], ["--version"]])
def test_help_imports_no_heavy_module(argv):
    code = (f"import contextlib, io\nfrom hwsim.output.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try:\n        main({argv!r})\n    except SystemExit:\n        pass")
    assert _imported(code) == set()


def test_importing_hwsim_defers_the_api():
    assert _imported("import hwsim") == set()
    assert "hwsim.api" in _imported("import hwsim\nhwsim.simulate")


def test_a_command_imports_only_what_it_uses():
    """`hwsim profiles` needs the catalog, not the report pages or plotly."""
    code = ("import contextlib, io\nfrom hwsim.output.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    main(['profiles', '--kind', 'pricing'])")
    imported = _imported(code)
    assert "hwsim.output.commands" in imported
    assert not imported & {"plotly", "hwsim.output.report", "hwsim.output.html_page", "distributed", "tqdm"}
