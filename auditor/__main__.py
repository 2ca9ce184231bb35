"""`python -m auditor` is the `audit` command."""

from auditor.cli.main import entry_point

entry_point()
