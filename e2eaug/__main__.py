"""``python -m e2eaug``: the same as the ``e2eaug`` console script."""

import sys

from e2eaug.cli import main

sys.exit(main())
