"""The one catalog every sandbox is seeded from (`POST /_sandbox/seed`, `retail-sync sandbox seed FILE`).

WooCommerce turns it into products (variable ones with variations) whose managed stock is the total over sites;
the ERP into products, warehouses and quants; the WMS into on-hand per site.
"""
from __future__ import annotations

import unicodedata
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def normalise_sku(raw: str) -> str:
    return unicodedata.normalize("NFC", raw.strip())


def required_sku(raw: str) -> str:
    """`normalise_sku` for a field validator: blank after trimming is a validation error."""
    value = normalise_sku(raw)
    if not value:
        raise ValueError("sku must not be blank")
    return value


class CatalogItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    stock: dict[str, int] = Field(default_factory=dict)
    tax_class: str = Field("", description="'' (standard rate) or 'reduced-rate'")
    manage_stock: bool = True

    @field_validator("sku")
    @classmethod
    def _sku(cls, value: str) -> str:
        return required_sku(value)

    @property
    def total_stock(self) -> int:
        return sum(self.stock.values())


class CatalogProduct(CatalogItem):
    variations: list[CatalogItem] = Field(default_factory=list)

    @property
    def items(self) -> list[CatalogItem]:
        """The stock-keeping units: the variations of a variable product, else the product itself."""
        return list(self.variations) if self.variations else [self]


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sites: list[str] = Field(min_length=1)
    products: list[CatalogProduct] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> "Catalog":
        sites = set(self.sites)
        seen: set[str] = set()
        for product in self.products:
            for item in [product, *product.variations]:
                unknown = set(item.stock) - sites
                if unknown:
                    raise ValueError(f"{item.sku}: stock for unknown site(s) {sorted(unknown)}")
                if any(qty < 0 for qty in item.stock.values()):
                    raise ValueError(f"{item.sku}: stock must not be negative")
                if item.sku in seen:
                    raise ValueError(f"duplicate sku {item.sku!r}")
                seen.add(item.sku)
        return self

    def skus(self) -> list[CatalogItem]:
        return [item for product in self.products for item in product.items]
