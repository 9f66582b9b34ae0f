"""The WooCommerce store sandbox: REST `wp-json/wc/v3` and webhook delivery (reference/woocommerce.md)."""
