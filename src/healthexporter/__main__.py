import sys

from healthexporter.cli import main

sys.exit(main())
