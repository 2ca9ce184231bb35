"""The one error type for user-facing failures.

Anything a user can cause (a missing file, a bad column, an unreachable server) raises
`AuditError` with a message that names the file, row and column where known. The CLI turns it
into one clear line on stderr and exit code 2; a traceback means a bug in this project.
"""

from __future__ import annotations


class AuditError(Exception):
    """A failure caused by the user's input or environment, reported without a traceback."""
