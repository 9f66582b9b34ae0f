"""Simulated external systems: a WooCommerce store, an Odoo-API ERP and a WMS (DESIGN §8).

Each sandbox is an independent implementation of the remote contract. Nothing here imports
`retail_sync.connectors`: signing, OAuth, PHP-style JSON and mapping are written again on this side, so a
contract test can never pass by checking the engine's code against itself.
"""
