"""Running untrusted code (model completions) behind an OS boundary; see docs/sandbox.md."""

from assay.sandbox.bwrap import SandboxUnavailable
from assay.sandbox.outcome import Outcome
from assay.sandbox.runner import Limits, require_sandbox, run_python

__all__ = ["Limits", "Outcome", "SandboxUnavailable", "require_sandbox", "run_python"]
