"""``python -m bench.faults``."""

from bench.faults.cli import main

raise SystemExit(main())
