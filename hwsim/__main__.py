"""`python -m hwsim`: the command line."""
from hwsim.output.cli import main

raise SystemExit(main())
