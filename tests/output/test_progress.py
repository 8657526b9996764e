"""Progress on stderr: a bar on a terminal, a line every interval when redirected, nothing for short runs."""
import io
import re
import subprocess
import sys

from hwsim.output import progress

from .invoke import run


class Terminal(io.StringIO):
    def isatty(self):
        return True


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now_s = 0.0

    def __call__(self):
        return self.now_s


def _five_updates_over_25_s(stream, clock, **options):
    with progress.Progress("plan", total=200, unit="candidates", stream=stream, clock=clock, **options) as bar:
        for done in (40, 80, 120, 160, 200):
            clock.now_s += 5
            bar.update(done, 200)


def test_on_a_terminal_the_bar_shows_the_count_the_elapsed_time_and_the_time_left():
    stream = Terminal()
    _five_updates_over_25_s(stream, Clock(), delay_s=0)
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("plan: 100%") and "200/200 candidates [00:00<00:00]" in last


def test_on_a_terminal_an_unknown_total_shows_the_steps_the_elapsed_time_and_the_last_step():
    stream = Terminal()
    with progress.Progress("report", unit="steps", stream=stream, delay_s=0) as bar:
        bar.step("simulated baseline")
        bar.step("load curve of baseline")
    assert stream.getvalue().split("\r")[-1] == "report: 2 steps [00:00], load curve of baseline\n"


def test_on_a_terminal_a_run_shorter_than_the_delay_draws_no_bar():
    stream = Terminal()
    _five_updates_over_25_s(stream, Clock())  # tqdm's own clock: the run takes well under the second's delay
    assert stream.getvalue() == ""


def test_redirected_a_line_every_interval_with_elapsed_and_left_and_a_final_line():
    stream = io.StringIO()
    _five_updates_over_25_s(stream, Clock())
    assert stream.getvalue().splitlines() == [
        "plan: 80/200 candidates, 10 s elapsed, about 15 s left",
        "plan: 160/200 candidates, 20 s elapsed, about 5 s left",
        "plan: 200/200 candidates in 25 s",
    ]


def test_redirected_steps_without_a_total_give_elapsed_and_the_last_step():
    stream, clock = io.StringIO(), Clock()
    with progress.Progress("report", unit="steps", stream=stream, clock=clock) as bar:
        for name in ("a", "b", "c"):
            clock.now_s += 6
            bar.step(f"simulated {name}")
    assert stream.getvalue().splitlines() == ["report: 2 steps, 12 s elapsed (simulated b)", "report: 3 steps in 18 s"]


def test_redirected_a_run_within_the_interval_writes_nothing():
    stream = io.StringIO()
    _five_updates_over_25_s(stream, Clock(), interval_s=30)
    assert stream.getvalue() == ""


def test_disabled_writes_nothing_on_a_terminal_or_redirected():
    for stream in (Terminal(), io.StringIO()):
        _five_updates_over_25_s(stream, Clock(), enabled=False, delay_s=0)
        assert stream.getvalue() == ""


def test_timed_says_how_long_a_long_search_took_only_when_redirected():
    for stream, shown in ((io.StringIO(), "capacity: searched in 2 min 5 s\n"), (Terminal(), "")):
        clock = Clock()
        with progress.timed("capacity", "searched", stream=stream, clock=clock):
            clock.now_s += 125
        assert stream.getvalue() == shown
    quick = io.StringIO()
    with progress.timed("capacity", "searched", stream=quick, clock=Clock()):
        pass
    assert quick.getvalue() == ""


PLAN = ("model: llama-3-8b\nworkload:\n  arrival: {kind: poisson, rate: 2}\n  requests: 20\n"
        "  prompt_tokens: {kind: fixed, value: 200}\n  output_tokens: {kind: fixed, value: 40}\n"
        "slo: {ttft: 1 s, tpot: 80 ms}\nsearch:\n  hardware: [l4, h100-sxm]\n")


def test_plan_redirected_logs_progress_on_stderr_and_leaves_stdout_as_it_was(capsys, tmp_path, monkeypatch):
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    code, quiet_out, quiet_err = run(capsys, "plan", str(path), "--workers", "1", "--no-progress")
    assert code == 0 and quiet_err == ""
    monkeypatch.setattr(progress, "INTERVAL_S", 0.0)  # every update is a line
    code, out, err = run(capsys, "plan", str(path), "--workers", "1")
    assert code == 0 and out == quiet_out
    shown = [re.sub(r"\d+ s", "N s", line) for line in err.splitlines()]
    assert shown == ["plan: 1/2 candidates, N s elapsed, about N s left", "plan: 2/2 candidates, N s elapsed",
                     "plan: 2/2 candidates in N s"]


def test_importing_the_cli_does_not_import_tqdm():
    code = "import sys, hwsim.output.cli; print('tqdm' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout == "False\n"
