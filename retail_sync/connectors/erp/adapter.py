"""`OdooErp`: the ErpPort over Odoo's external API, in canonical terms (see `ports.ErpPort`).

Odoo has no idempotency: creating a sale order twice makes two. This adapter never searches before creating a
sale order (the flow claims the effect in SQL and looks the reference up first); it makes every other step safe
to repeat: confirming a confirmed order, cancelling a cancelled one, posting an invoice whose create answer was
lost (the draft is finished, not duplicated). Ids that never change meaning (a customer's partner, the shipping
and fee service products, countries) are looked up once per process and kept.
"""
from __future__ import annotations

import logging
from typing import Any, Iterator, Mapping, Sequence

from config.settings import Settings
from retail_sync.connectors.erp.client import SYSTEM, OdooClient
from retail_sync.connectors.erp.mapper import (
    DOCUMENT_FIELDS, PRODUCT_FIELDS, SALE_LINE_FIELDS, SERVICE_PRODUCT_NAMES, country_code, document_from_record,
    invoice_values, is_already_confirmed, partner_values, pick_email, pick_product, pick_sale_order,
    product_from_record, sale_order_values, service_product_values,
)
from retail_sync.connectors.http import CallGuard, timeouts
from retail_sync.connectors.ports import ErpDocument, ErpProduct, InvoiceLine
from retail_sync.domain.orders import Order
from retail_sync.errors import PermanentError, RecordGone

logger = logging.getLogger(__name__)

FIND_CHUNK = 500  # SKUs per search: keeps each domain (and the server's IN list) a sensible size
WITH_ARCHIVED = {"active_test": False}  # archived products come back too, as not sellable
CANCEL_WITHOUT_WIZARD = {"disable_cancel_warning": True}  # else Odoo 17 answers its cancel wizard


def build_erp(settings: Settings, guard: CallGuard) -> "OdooErp":
    client = OdooClient(settings.erp_url, settings.erp_db, settings.erp_user,
                        settings.erp_password.get_secret_value(), timeout=timeouts(settings, SYSTEM), guard=guard)
    return OdooErp(client)


class OdooErp:
    def __init__(self, client: OdooClient) -> None:
        self._client = client
        self._partner_ids: dict[str, int] = {}  # customer email (casefolded) → res.partner id
        self._country_ids: dict[str, int | None] = {}  # ISO code → res.country id (None: unknown to the ERP)
        self._service_ids: dict[str, int] | None = None  # SHIPPING / FEE → product.product id

    # --- products ------------------------------------------------------------------------------------------
    def find_products(self, skus: Sequence[str]) -> dict[str, ErpProduct]:
        wanted = list(dict.fromkeys(skus))
        found: dict[str, ErpProduct] = {}
        for start in range(0, len(wanted), FIND_CHUNK):
            records = self._search_read("product.product", [["default_code", "in", wanted[start:start + FIND_CHUNK]]],
                                        PRODUCT_FIELDS, context=WITH_ARCHIVED)
            for record in records:
                product = product_from_record(record)
                found[product.sku] = pick_product(found.get(product.sku), product)
        return found

    def iter_products(self, page_size: int = 500) -> Iterator[ErpProduct]:
        """Every product with a SKU, archived ones included, by id pages (keyset: no offset scans)."""
        last_id = 0
        while True:
            records = self._search_read("product.product", [["id", ">", last_id], ["default_code", "!=", False]],
                                        PRODUCT_FIELDS, limit=page_size, context=WITH_ARCHIVED)
            for record in records:
                yield product_from_record(record)
            if len(records) < page_size:
                return
            last_id = records[-1]["id"]

    # --- sale orders ---------------------------------------------------------------------------------------
    def find_sale_order(self, client_order_ref: str) -> ErpDocument | None:
        records = self._search_read("sale.order", [["client_order_ref", "=", client_order_ref]], DOCUMENT_FIELDS)
        return pick_sale_order(records)

    def create_sale_order(self, order: Order, product_ids: Mapping[str, int]) -> ErpDocument:
        try:
            values = sale_order_values(order, self._partner_for(order), product_ids, self._service_products())
            sale_order_id = self._client.execute_kw("sale.order", "create", [values])
        except RecordGone:
            # a kept id was deleted in the ERP: look everything up again next time
            self._partner_ids.clear()
            self._service_ids = None
            raise
        logger.info("erp sale order created", extra={"system": SYSTEM, "kind": "sale.order",
                                                     "external_id": sale_order_id, "ref": order.ref})
        return self.confirm_sale_order(sale_order_id)

    def confirm_sale_order(self, sale_order_id: int) -> ErpDocument:
        try:
            self._client.execute_kw("sale.order", "action_confirm", [[sale_order_id]])
        except PermanentError as exc:
            if not is_already_confirmed(exc):
                raise
            document = self._read_document("sale.order", sale_order_id)
            if document.state != "sale":  # "not in a state requiring confirmation" because it was cancelled
                raise
            return document
        return self._read_document("sale.order", sale_order_id)

    def cancel_sale_order(self, sale_order_id: int) -> ErpDocument:
        document = self._read_document("sale.order", sale_order_id)
        if document.state == "cancel":
            return document
        answer = self._client.execute_kw("sale.order", "action_cancel", [[sale_order_id]],
                                         {"context": CANCEL_WITHOUT_WIZARD})
        document = self._read_document("sale.order", sale_order_id)
        if document.state != "cancel":
            wizard = " (the ERP answered its cancel wizard)" if isinstance(answer, dict) else ""
            raise PermanentError(f"erp sale.order.action_cancel: {document.name} is still {document.state}{wizard}")
        return document

    # --- invoices ------------------------------------------------------------------------------------------
    def find_invoice(self, origin: str) -> ErpDocument | None:
        """The posted invoice. A draft under this origin is not one yet: it is an earlier attempt whose answer
        was lost before posting, which `create_invoice` finishes (so it is never mistaken for done)."""
        records = self._invoices(origin, "posted", limit=1)
        return document_from_record(records[0]) if records else None

    def create_invoice(self, origin: str, sale_order_id: int, lines: Sequence[InvoiceLine]) -> ErpDocument:
        sale_order = self._read("sale.order", sale_order_id, ["name", "state", "partner_id", "order_line"])
        if sale_order["state"] == "cancel":
            raise PermanentError(f"erp account.move.create {origin}: sale order {sale_order['name']} is cancelled")
        sale_lines = self._client.execute_kw("sale.order.line", "read", [sale_order["order_line"], SALE_LINE_FIELDS])
        product_ids = sorted({line["product_id"][0] for line in sale_lines if line["product_id"]})
        products = self._client.execute_kw("product.product", "read", [product_ids, ["default_code"]],
                                           {"context": WITH_ARCHIVED})
        skus = {product["id"]: product["default_code"] or "" for product in products}
        values = invoice_values(origin, sale_order["partner_id"][0], sale_lines, skus, lines)
        drafts = self._invoices(origin, "draft", limit=1)
        if drafts:
            # ours, created before a lost answer: bring its lines up to date and post it, never a second invoice
            move_id = drafts[0]["id"]
            self._client.execute_kw("account.move", "write", [[move_id], {
                **values, "invoice_line_ids": [[5]] + values["invoice_line_ids"]}])
        else:
            move_id = self._client.execute_kw("account.move", "create", [values])
        self._client.execute_kw("account.move", "action_post", [[move_id]])
        logger.info("erp invoice posted", extra={"system": SYSTEM, "kind": "account.move", "external_id": move_id,
                                                 "ref": origin})
        return self._read_document("account.move", move_id)

    def _invoices(self, origin: str, state: str, *, limit: int) -> list[dict[str, Any]]:
        return self._search_read("account.move", [["move_type", "=", "out_invoice"], ["invoice_origin", "=", origin],
                                                  ["state", "=", state]], DOCUMENT_FIELDS, limit=limit)

    # --- kept ids ------------------------------------------------------------------------------------------
    def _partner_for(self, order: Order) -> int:
        """The customer's partner, matched by email ignoring case (guests too), created when missing."""
        email = order.customer.email.strip()
        if not email:
            raise PermanentError(f"erp res.partner {order.ref}: the order has no customer email to match")
        key = email.casefold()
        if key not in self._partner_ids:
            records = self._search_read("res.partner", [["email", "=ilike", email]], ["email"])
            partner_id = pick_email(records, email)
            if partner_id is None:
                country_id = self._country_id(country_code(order))
                partner_id = self._client.execute_kw("res.partner", "create", [partner_values(order, country_id)])
            self._partner_ids[key] = partner_id
        return self._partner_ids[key]

    def _country_id(self, code: str) -> int | None:
        if not code:
            return None
        if code not in self._country_ids:
            records = self._search_read("res.country", [["code", "=", code]], ["code"], limit=1)
            self._country_ids[code] = records[0]["id"] if records else None
        return self._country_ids[code]

    def _service_products(self) -> dict[str, int]:
        """The SHIPPING and FEE service products, found or created once."""
        if self._service_ids is None:
            found = self._find_service_products()
            missing = [code for code in SERVICE_PRODUCT_NAMES if code not in found]
            if missing:
                try:
                    created = self._client.execute_kw("product.product", "create",
                                                      [[service_product_values(code) for code in missing]])
                    found.update(zip(missing, created))
                except PermanentError:
                    # another worker created them first (a unique SKU refused ours): take theirs
                    found = self._find_service_products()
                    if any(code not in found for code in SERVICE_PRODUCT_NAMES):
                        raise
            self._service_ids = found
        return self._service_ids

    def _find_service_products(self) -> dict[str, int]:
        records = self._search_read("product.product", [["default_code", "in", list(SERVICE_PRODUCT_NAMES)]],
                                    ["default_code"], context=WITH_ARCHIVED)
        found: dict[str, int] = {}
        for record in records:
            found.setdefault(record["default_code"], record["id"])  # the oldest, should Odoo hold duplicates
        return found

    # --- reads ---------------------------------------------------------------------------------------------
    def _search_read(self, model: str, domain: list[Any], fields: list[str], *, limit: int | None = None,
                     context: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"fields": fields, "order": "id"}
        if limit is not None:
            kwargs["limit"] = limit
        if context:
            kwargs["context"] = dict(context)
        return self._client.execute_kw(model, "search_read", [domain], kwargs)

    def _read(self, model: str, record_id: int, fields: list[str]) -> dict[str, Any]:
        records = self._client.execute_kw(model, "read", [[record_id], fields])
        if not records:  # Odoo's read skips ids that do not exist
            raise RecordGone(f"erp {model}.read: {model}({record_id}) does not exist")
        return records[0]

    def _read_document(self, model: str, record_id: int) -> ErpDocument:
        return document_from_record(self._read(model, record_id, DOCUMENT_FIELDS))
