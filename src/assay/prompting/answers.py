"""Moved to `assay.answers` (answer reading is shared by prompting and metrics); this name is
kept for code written against it."""

from assay.answers import (
    letters,
    normalize_number,
    read_choice,
    read_final_number,
    read_yes_no,
)

__all__ = ["letters", "normalize_number", "read_choice", "read_final_number", "read_yes_no"]
