"""Golden outputs: every prediction the CLI makes (estimates, offload and expert plans, flash,
serving simulations, a capacity plan, validation tables and kernel-speedup checks) stays what it
was, text exactly and JSON numbers to 1e-9 relative, unless a change says why it moved."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))

from cases import CASES  # noqa: E402
from runner import compare  # noqa: E402


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_output_holds(name):
    assert compare(name, CASES[name]) == []
