"""``meetbridge doctor``: checks a running deployment from meetbridge's side.

Each check says what it found in one line and, when something is wrong, what to do about it.
The same checks serve the CLI (exit status 1 when one fails) and the status page at ``/``.
"""
