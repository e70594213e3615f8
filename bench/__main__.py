"""``python -m bench`` = :func:`bench.cli.main`."""

from bench.cli import main

raise SystemExit(main())
