"""``python -m codeartifact_generic.testing.local_deploy deploy|destroy ...``."""

import sys

from .cli import main

sys.exit(main())
