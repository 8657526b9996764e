"""Running `hwsim` in-process, as the command-line tests do: exit code, stdout and stderr."""
from hwsim.output.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
