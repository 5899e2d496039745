"""Adapters for what leaves the application other than DynamoDB: KMS, DNS, HTTP, SQS."""
