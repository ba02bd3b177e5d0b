"""``python -m medview`` is the ``medview`` command."""

import sys

from medview.cli.main import main

sys.exit(main())
