"""The project's own OpenAI-compatible server for lab (and local hf) models.

`audit serve` runs it so the OpenAI path of generation, judging and probing works end to end
with no outside service, and other tools can be pointed at a lab teacher.
"""

from auditor.server.errors import ApiError
from auditor.server.http import make_server
from auditor.server.service import LabService, ServerConfig

__all__ = ["ApiError", "LabService", "ServerConfig", "make_server"]
