"""Repositories: every DynamoDB call, key and transaction of the application lives here.

The key design is written down in ``docs/storage-design.md``.
"""
