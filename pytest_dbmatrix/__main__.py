import sys

from pytest_dbmatrix.cli import main

sys.exit(main())
