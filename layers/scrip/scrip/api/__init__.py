"""HTTP plumbing shared by the thin handlers in ``functions/``: schemas, auth, errors."""
