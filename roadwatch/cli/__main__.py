import sys

from roadwatch.cli import main

sys.exit(main())
