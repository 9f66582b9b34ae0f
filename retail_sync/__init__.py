"""retail-sync: keeps a WooCommerce store, an ERP and a warehouse system in step."""

__version__ = "0.1.0"
