"""``python -m medview.training`` and ``torchrun -m medview.training``: see medview.training.command."""

import sys

from medview.training.command import main

if __name__ == "__main__":
    sys.exit(main())
