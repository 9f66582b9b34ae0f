"""What the three sandboxes share: SQLite state, the fault gate, the call ledger and the control routes."""
