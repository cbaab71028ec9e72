"""`python -m tenfold ...`: the `tenfold` command line."""
import sys

from tenfold.cli import main

sys.exit(main())
