"""The one error the report raises for bad input: it names the file (and line) and what to do."""

from __future__ import annotations


class ReportInputError(ValueError):
    """A results file, run-folder file, sweep CSV or calibration JSON that cannot be used.

    The message starts with the file's path (and `, line N` for JSON Lines and CSV) so the
    command line can print it as is.
    """
