"""``python -m stochastic_attention STEP …``: the console command through any interpreter."""

import sys

from .cli import main

sys.exit(main())
