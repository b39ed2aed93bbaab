"""`python -m cnnkernels.bench [options]`: the same as `cnnkernels bench [options]`."""

import sys

from .cli import main

sys.exit(main())
