import sys

from ioc.cli import main

sys.exit(main(prog="python -m ioc"))
