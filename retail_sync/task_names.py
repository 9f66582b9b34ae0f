"""Task names are a wire contract (messages in Redis and rows in the exception store carry them).

Flows and config refer to tasks by these strings so that neither imports `tasks/`. A rename keeps a shim.
"""

PROCESS_INBOX = "retail_sync.inbox.process_deliveries"
SWEEP_INBOX = "retail_sync.inbox.sweep_inbox"
