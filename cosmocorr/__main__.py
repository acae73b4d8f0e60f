"""`python -m cosmocorr`: the command line of :mod:`cosmocorr.cli` (the paper's rho statistics, sec. 2.1, and Algorithm 1)."""
import sys

from .cli import main

sys.exit(main())
