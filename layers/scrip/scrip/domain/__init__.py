"""Domain vocabulary and rules: pure Python, no AWS SDK."""
