"""A small SQL-backed ORM with Odoo's calling conventions: fields, domains, x2many commands and the generic
RPC methods (`search`, `search_read`, `search_count`, `read`, `create`, `write`, `unlink`, `fields_get`)."""
