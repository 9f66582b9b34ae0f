"""The ERP sandbox: a subset of the Odoo 17 external API (JSON-RPC `/jsonrpc`, XML-RPC `/xmlrpc/2/...`).

`orm/` is a small SQL-backed ORM with Odoo's calling conventions (domains, x2many commands, `[id, name]`
many2one reads); `models/` holds the business models the engine talks to; `rpc.py` speaks the wire protocols
and reports errors the way Odoo does. See docs/sandbox-erp.md.
"""
