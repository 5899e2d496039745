"""Use cases: one function per API operation. Pure Python: repositories do all storage."""
