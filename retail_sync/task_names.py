"""Task names are a wire contract (messages in Redis and rows in the exception store carry them).

Flows and config refer to tasks by these strings so that neither imports `tasks/`. A rename keeps a shim.
Queues (config/celeryconfig.py ROUTES): `critical` touches only SQL and WooCommerce reads; every ERP and WMS
call, and every write to the store, runs on `default`; sweeps of the whole catalog run on `bulk`.
"""

PROCESS_INBOX = "retail_sync.inbox.process_deliveries"
SWEEP_INBOX = "retail_sync.inbox.sweep_inbox"

# Order to fulfilment (critical: capture, validation, reservation, cancellation decisions, the saga sweeper)
CAPTURE_STORE_ORDERS = "retail_sync.orders.capture_store_orders"  # args: [store order ids]
START_ORDER = "retail_sync.orders.start"  # args: ref — validate a stored order and start its saga
RESERVE_STOCK = "retail_sync.orders.reserve_stock"  # args: ref (chord header)
REQUEST_CANCEL = "retail_sync.orders.request_cancel"  # args: ref, reason
SWEEP_SAGAS = "retail_sync.orders.sweep_sagas"

# default: the ERP, the WMS and writes to the store
POST_TO_ERP = "retail_sync.orders.post_to_erp"  # args: ref (chord header)
RELEASE_TO_WMS = "retail_sync.orders.release_to_wms"  # args: ref (chord body)
VOID_ERP_ORDER = "retail_sync.orders.void_erp_order"  # args: ref — compensation: reservation failed after posting
HOLD_IN_STORE = "retail_sync.orders.hold_in_store"  # args: ref
RESUME_IN_STORE = "retail_sync.orders.resume_in_store"  # args: ref — a held order passed validation after all
COMPENSATE_CANCEL = "retail_sync.orders.compensate_cancel"  # args: ref
CONFIRM_SHIPMENT = "retail_sync.fulfilment.confirm_shipment"  # args: shipment id
LOOKUP_SKUS = "retail_sync.catalog.lookup_skus"  # args: ref — on-demand lookup of an order's unknown SKUs

# bulk
SYNC_CATALOG = "retail_sync.catalog.sync"
BACKFILL_ORDERS = "retail_sync.orders.backfill"
