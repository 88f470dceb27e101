"""What any operator's harness uses to reach the sandbox: its admin REST API (`SandboxAdmin`) and one FTP
session on an OC's account (`FtpSession`). An operator's own OC client (its files, its flows) lives with the
operator's harness (simulator/operators/<operator>/harness/)."""

from .admin import AdminError, SandboxAdmin
from .ftp import FtpSession

__all__ = ["AdminError", "FtpSession", "SandboxAdmin"]
