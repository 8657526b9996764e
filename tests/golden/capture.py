"""Record the golden outputs of every case in `cases.py` (run from the project root).

    python tests/golden/capture.py [NAME ...]

Each case leaves `outputs/NAME.txt` (standard output and the exit code) and, when it writes
one, `outputs/NAME.json`. Re-record only when a prediction changes on purpose.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import CASES  # noqa: E402
from runner import OUTPUTS, run_case  # noqa: E402


def main(names: list[str]) -> int:
    OUTPUTS.mkdir(exist_ok=True)
    for name in names or list(CASES):
        text, document = run_case(CASES[name])
        (OUTPUTS / f"{name}.txt").write_text(text)
        if document is not None:
            (OUTPUTS / f"{name}.json").write_text(document)
        print(f"recorded {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
