"""Regenerate the validation table in README.md from `hwsim validate` on the measurement files.

    python benchmarks/validation_table.py validation/*.csv

Prints the table and replaces the block between the VALIDATION markers in README.md.
"""
from __future__ import annotations

import sys
from pathlib import Path

from hwsim.studies import validate

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- VALIDATION:START -->", "<!-- VALIDATION:END -->"


def table(paths: list[str]) -> str:
    lines = ["| file | kind (/ hardware) | rows | predicted | MAPE | median APE | max APE | worst row |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for path in paths:
        rows = validate.validate([path])
        by = ("kind", "hardware") if rows["hardware"].nunique() > 1 else ("kind",)  # one group per machine
        lines.append(validate.format_summary(validate.summarize(rows, by), _label(path)))
    return "\n".join(lines)


def _label(path: str) -> str:
    """The file's path below validation/ (pairs share file names), else its name."""
    parts = Path(path).parts
    return "/".join(parts[parts.index("validation") + 1:]) if "validation" in parts else Path(path).name


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    text = table(sorted(paths))
    print(text)
    readme = README.read_text()
    if START in readme and END in readme:
        head, rest = readme.split(START, 1)
        _, tail = rest.split(END, 1)
        command = "python benchmarks/validation_table.py " + " ".join(sorted(paths))
        README.write_text(f"{head}{START}\n{text}\n\nRegenerate with `{command}`.\n{END}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
