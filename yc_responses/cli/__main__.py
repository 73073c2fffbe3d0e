"""``python -m yc_responses.cli``: the ``yc-responses`` command."""

from yc_responses.cli.entry import main

raise SystemExit(main())
