"""``python -m accord`` is the ``accord`` command."""

import sys

from accord.cli.main import main

sys.exit(main())
