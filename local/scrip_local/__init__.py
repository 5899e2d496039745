"""The Docker-free local stack: the template's functions, served and wired as on AWS.

``python -m scrip_local serve`` reads ``template.yaml``, starts an embedded AWS emulator (moto)
unless ``AWS_ENDPOINT_URL*`` points at a real endpoint, creates the template's tables and
queues, serves every API route over HTTP and delivers stream records, queue messages and
schedules to the functions that subscribe to them.
"""
