import sys

from scxpy.cli import main

sys.exit(main())
