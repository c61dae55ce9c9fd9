"""Running untrusted code (model completions) in a confined child process."""

from assay.sandbox.runner import Limits, Outcome, run_python

__all__ = ["Limits", "Outcome", "run_python"]
