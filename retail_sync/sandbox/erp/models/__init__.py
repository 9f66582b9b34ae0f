"""The business models served by the ERP sandbox."""
from __future__ import annotations

from retail_sync.sandbox.erp.models import account, partner, product, sale, stock
from retail_sync.sandbox.erp.orm.model import BaseModel

MODULES = (partner, account, product, stock, sale)
REGISTRY: dict[str, type[BaseModel]] = {cls._name: cls for module in MODULES for cls in module.MODELS}
SCHEMA = "".join(module.SCHEMA for module in MODULES)
# referencing tables first, so a reset can delete with foreign keys enforced
TABLES = (*sale.TABLES, *stock.TABLES, *account.TABLES, *product.TABLES, *partner.TABLES, "erp_sequence")
