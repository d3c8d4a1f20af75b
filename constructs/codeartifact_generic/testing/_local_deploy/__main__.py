"""``python -m codeartifact_generic.testing._local_deploy deploy|destroy ...``."""

import sys

from .cli import main

sys.exit(main())
