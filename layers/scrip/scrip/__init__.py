"""Shared code of the Scrip-compatible rewards API (deployed as a Lambda layer).

Three layers, one direction: ``api`` (HTTP plumbing for the thin handlers in ``functions/``)
→ ``services`` (use cases, pure Python) → ``storage`` (every DynamoDB call).
``domain`` holds the vocabulary and rules that services use; it imports no AWS SDK.
"""
