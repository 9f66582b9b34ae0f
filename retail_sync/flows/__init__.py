"""Business logic, one module per area. Flows see ports and the state store, never concrete clients."""
