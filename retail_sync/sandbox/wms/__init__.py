"""The WMS sandbox: fulfilment orders, inventory per site, return authorizations and signed events (docs/wms-api.md)."""
