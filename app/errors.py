"""Errors a person can fix. The CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """Something a person or a file got wrong; the message says what to fix."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code
