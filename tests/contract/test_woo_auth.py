"""WooCommerce sandbox authentication, as a real store does it (reference §2.1, §7), driven over real HTTP.

The unchanged `woocommerce` package signs OAuth 1.0a HMAC-SHA256 in the query string over http and uses HTTP
Basic (or query keys) over https; the header and form-body OAuth variants and HMAC-SHA1 are signed by a small,
independent signer written here from RFC 5849.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import replace
from urllib.parse import quote, urlencode, urlsplit

import pytest
import requests
import woocommerce
from woocommerce.oauth import OAuth

from retail_sync.sandbox import runner
from retail_sync.sandbox.woocommerce.app import WooSandbox

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # self-signed --tls

CATALOG = {"sites": ["WH-EAST"], "products": [{"sku": "TEE-1", "name": "Tee", "price": "19.90",
                                                "stock": {"WH-EAST": 5}}]}


def _encode(value: str) -> str:
    return quote(str(value), safe="-_.~")


def sign(method: str, url: str, key: str, secret: str, params: dict | None = None, *, algorithm: str = "HMAC-SHA1",
         timestamp: int | None = None, nonce: str | None = None) -> dict:
    """RFC 5849 one-legged: every parameter, sorted, in the base string; key = secret + '&'."""
    oauth = {"oauth_consumer_key": key, "oauth_timestamp": str(timestamp or int(time.time())),
             "oauth_nonce": nonce or secrets.token_hex(16), "oauth_signature_method": algorithm}
    pairs = sorted((_encode(k), _encode(v)) for k, v in {**(params or {}), **oauth}.items())
    base = "&".join([method.upper(), _encode(url), _encode("&".join(f"{k}={v}" for k, v in pairs))])
    digest = hashlib.sha1 if algorithm == "HMAC-SHA1" else hashlib.sha256
    oauth["oauth_signature"] = base64.b64encode(hmac.new(f"{secret}&".encode(), base.encode(), digest).digest()).decode()
    return oauth


def oauth_header(oauth: dict) -> str:
    return "OAuth " + ", ".join(f'{k}="{_encode(v)}"' for k, v in oauth.items())


def seed(url: str, **kwargs) -> None:
    assert requests.post(f"{url}/_sandbox/seed", json=CATALOG, timeout=5, **kwargs).status_code == 200


@pytest.fixture
def store(serve, sandbox_options) -> str:
    url = serve(WooSandbox, sandbox_options, port=sandbox_options.woo_port)
    seed(url)
    return url


@pytest.fixture
def tls_store(serve, sandbox_options) -> str:
    url = serve(WooSandbox, replace(sandbox_options, tls=True), tls=True, port=sandbox_options.woo_port)
    seed(url, verify=False)
    return url


def api(url: str, key: str = "ck_dev", secret: str = "cs_dev", **kwargs) -> woocommerce.API:
    return woocommerce.API(url=url, consumer_key=key, consumer_secret=secret, timeout=10, **kwargs)


def error(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["code"], body["message"]


# ---- OAuth over plain http ----------------------------------------------------------------------------------
def test_the_woocommerce_client_signs_oauth_sha256_over_http_and_can_read_and_write(store):
    client = api(store)
    listed = client.get("products", params={"sku": "TEE-1"})
    assert listed.status_code == 200, listed.text
    assert [p["sku"] for p in listed.json()] == ["TEE-1"]
    created = client.post("products", {"name": "Cap", "sku": "CAP-1", "regular_price": "9.00"})
    assert created.status_code == 201, created.text
    assert client.put(f"products/{created.json()['id']}", {"name": "Blue cap"}).json()["name"] == "Blue cap"


def test_oauth_sha1_in_the_authorization_header_and_in_a_form_body(store):
    url = f"{store}/wp-json/wc/v3/products"
    signed = sign("GET", url, "ck_dev", "cs_dev", {"per_page": "5"})
    response = requests.get(url, params={"per_page": "5"}, headers={"Authorization": oauth_header(signed)}, timeout=5)
    assert response.status_code == 200, response.text
    form = {"name": "Form-made", "sku": "FORM-1", "regular_price": "3.50"}
    body = {**form, **sign("POST", url, "ck_dev", "cs_dev", form)}
    created = requests.post(url, data=body, timeout=5)
    assert created.status_code == 201, created.text
    assert created.json()["sku"] == "FORM-1"


def test_the_signature_covers_the_url_as_the_client_addressed_it(store):
    port = urlsplit(store).port
    assert api(f"http://localhost:{port}").get("products").status_code == 200  # Host: localhost:PORT, signed so
    signed = sign("GET", f"http://127.0.0.1:{port + 1}/wp-json/wc/v3/products", "ck_dev", "cs_dev")
    response = requests.get(f"{store}/wp-json/wc/v3/products", params=signed, timeout=5)
    assert error(response) == (401, "woocommerce_rest_authentication_error",
                               "Invalid signature - provided signature does not match.")


@pytest.mark.parametrize("key, secret, message", [
    ("ck_dev", "cs_wrong", "Invalid signature - provided signature does not match."),
    ("ck_nobody", "cs_dev", "Consumer key is invalid."),
])
def test_oauth_failures_with_the_real_client(store, key, secret, message):
    assert error(api(store, key, secret).get("products")) == (401, "woocommerce_rest_authentication_error", message)


def test_a_timestamp_outside_fifteen_minutes_is_refused(store):
    for skew in (-16 * 60, 16 * 60):
        signed_url = OAuth(url=f"{store}/wp-json/wc/v3/products", consumer_key="ck_dev", consumer_secret="cs_dev",
                           version="wc/v3", method="GET", oauth_timestamp=int(time.time()) + skew).get_oauth_url()
        assert error(requests.get(signed_url, timeout=5)) == (401, "woocommerce_rest_authentication_error",
                                                              "Invalid timestamp.")


def test_a_nonce_is_refused_the_second_time_even_after_a_restart(sandbox_options):
    signed_url = None
    for attempt in range(2):
        sandbox = WooSandbox(sandbox_options)
        running = runner.start(sandbox_options, [(sandbox, sandbox_options.woo_port, False)])
        try:
            if signed_url is None:
                signed_url = OAuth(url=f"{running[0].url}/wp-json/wc/v3/products", consumer_key="ck_dev",
                                   consumer_secret="cs_dev", version="wc/v3", method="GET").get_oauth_url()
                assert requests.get(signed_url, timeout=5).status_code == 200
            assert error(requests.get(signed_url, timeout=5)) == (
                401, "woocommerce_rest_authentication_error", "Invalid nonce - nonce has already been used.")
        finally:
            runner.stop(running)


def test_missing_and_invalid_oauth_parameters(store):
    url = f"{store}/wp-json/wc/v3/products"
    assert error(requests.get(url, params={"oauth_consumer_key": "ck_dev"}, timeout=5)) == (
        401, "woocommerce_rest_authentication_missing_parameter",
        "Missing OAuth parameters oauth_timestamp, oauth_nonce, oauth_signature, oauth_signature_method")
    signed = sign("GET", url, "ck_dev", "cs_dev")
    del signed["oauth_nonce"]
    assert error(requests.get(url, params=signed, timeout=5)) == (
        401, "woocommerce_rest_authentication_missing_parameter", "Missing OAuth parameter oauth_nonce")
    plaintext = sign("GET", url, "ck_dev", "cs_dev", algorithm="PLAINTEXT")
    assert error(requests.get(url, params=plaintext, timeout=5)) == (
        401, "woocommerce_rest_authentication_error", "Invalid signature - signature method is invalid.")


# ---- Basic and query keys only over https ---------------------------------------------------------------------
def test_basic_and_query_keys_over_plain_http_run_anonymous(store):
    products = f"{store}/wp-json/wc/v3/products"
    with_query_keys = requests.get(products, params={"consumer_key": "ck_dev", "consumer_secret": "cs_dev"}, timeout=5)
    assert error(with_query_keys) == (401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    basic = ("ck_dev", "cs_dev")
    assert error(requests.get(products, auth=basic, timeout=5)) == (
        401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    existing = api(store).get("products").json()[0]["id"]
    cases = [
        ("GET", f"{products}/{existing}", "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
        ("POST", products, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
        ("PUT", f"{products}/{existing}", "woocommerce_rest_cannot_edit",
         "Sorry, you are not allowed to edit this resource."),
        ("DELETE", f"{products}/{existing}", "woocommerce_rest_cannot_delete",
         "Sorry, you are not allowed to delete this resource."),
        ("POST", f"{products}/batch", "woocommerce_rest_cannot_batch",
         "Sorry, you are not allowed to batch manipulate this resource."),
        ("GET", f"{store}/wp-json/wc/v3/customers", "woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    ]
    for method, url, code, message in cases:
        assert error(requests.request(method, url, auth=basic, json={}, timeout=5)) == (401, code, message), url
    # WooCommerce's CRUD permission check only guards objects that exist: an unknown id reaches the handler
    missing = requests.get(f"{products}/999999", auth=basic, timeout=5)
    assert error(missing) == (404, "woocommerce_rest_product_invalid_id", "Invalid ID.")


def test_the_client_uses_basic_and_query_keys_over_tls(tls_store):
    for client in (api(tls_store, verify_ssl=False), api(tls_store, verify_ssl=False, query_string_auth=True)):
        listed = client.get("products")
        assert listed.status_code == 200, listed.text
        created = client.post("products", {"name": "TLS", "regular_price": "1.00"})
        assert created.status_code == 201, created.text
    url = f"{tls_store}/wp-json/wc/v3/products"
    signed = sign("GET", url, "ck_dev", "cs_dev")  # OAuth still works over https, signed with the https URL
    assert requests.get(url, params=signed, verify=False, timeout=5).status_code == 200


def test_basic_failures_over_tls(tls_store):
    wrong = api(tls_store, "ck_dev", "cs_wrong", verify_ssl=False).get("products")
    assert error(wrong) == (401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")
    # The store has code for `WWW-Authenticate: Basic realm=...`, but only sends it while its auth method is
    # still "basic_auth", and the OAuth fallback that runs right after a failed Basic check always replaces it.
    assert "WWW-Authenticate" not in wrong.headers
    unknown = api(tls_store, "ck_nobody", "cs_dev", verify_ssl=False).get("products")
    assert error(unknown) == (401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    query_wrong = api(tls_store, "ck_dev", "cs_wrong", verify_ssl=False, query_string_auth=True).get("products")
    assert error(query_wrong) == (401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")


def test_assume_https_accepts_basic_behind_tls_termination(serve, sandbox_options):
    url = serve(WooSandbox, replace(sandbox_options, assume_https=True), port=sandbox_options.woo_port)
    response = requests.get(f"{url}/wp-json/wc/v3/products", auth=("ck_dev", "cs_dev"), timeout=5)
    assert response.status_code == 200, response.text


# ---- key permissions, routes outside wc/v3 ----------------------------------------------------------------------
def test_read_and_write_keys_are_limited_to_their_methods(store):
    for key, permissions in (("ck_read", "read"), ("ck_write", "write")):
        added = requests.post(f"{store}/_sandbox/api-keys", json={"consumer_key": key, "consumer_secret": "cs_x",
                                                                   "permissions": permissions}, timeout=5)
        assert added.status_code == 200, added.text
    reader, writer = api(store, "ck_read", "cs_x"), api(store, "ck_write", "cs_x")
    assert reader.get("products").status_code == 200
    assert error(reader.post("products", {"name": "No"})) == (
        401, "woocommerce_rest_authentication_error", "The API key provided does not have write permissions.")
    assert writer.post("products", {"name": "Yes"}).status_code == 201
    assert error(writer.get("products")) == (
        401, "woocommerce_rest_authentication_error", "The API key provided does not have read permissions.")
    url = f"{store}/wp-json/wc/v3/products"
    odd = requests.request("PROPFIND", url, params=sign("PROPFIND", url, "ck_dev", "cs_dev"), timeout=5)
    assert error(odd) == (401, "woocommerce_rest_authentication_error", "Unknown request method.")


def test_rest_route_query_is_never_authenticated(store):
    port = urlsplit(store).port
    signed = OAuth(url=f"http://127.0.0.1:{port}/?{urlencode({'rest_route': '/wc/v3/products'})}",
                   consumer_key="ck_dev", consumer_secret="cs_dev", version="wc/v3", method="GET").get_oauth_url()
    assert error(requests.get(signed, timeout=5)) == (401, "woocommerce_rest_cannot_view",
                                                      "Sorry, you cannot list resources.")
    unknown = requests.get(f"{store}/", params={"rest_route": "/wc/v3/nothing-here"}, timeout=5)
    assert error(unknown)[:2] == (404, "rest_no_route")


def test_routes_outside_wc_v3_are_not_found_even_with_valid_keys(store):
    client = api(store)
    for endpoint in ("nothing-here", "products/1/unknown"):
        assert error(client.get(endpoint))[:2] == (404, "rest_no_route")
    wp_route = api(store, version="wp/v2").get("posts")
    assert error(wp_route) == (404, "rest_no_route", "No route was found matching the URL and request method.")


def test_an_anonymous_request_gets_its_bad_arguments_reported_before_the_401(store):
    """`WP_REST_Server::dispatch()` validates the route's arguments before the permission callback."""
    rest = f"{store}/wp-json/wc/v3"
    too_many = requests.get(f"{rest}/products", params={"per_page": 101}, timeout=5)
    assert error(too_many) == (400, "rest_invalid_param", "Invalid parameter(s): per_page")
    assert too_many.json()["data"]["params"] == {
        "per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"}
    cases = [
        ("GET", f"{rest}/products?stock_status=sold-out", None, "rest_invalid_param"),
        ("GET", f"{rest}/products/1/variations?per_page=0", None, "rest_invalid_param"),
        ("GET", f"{rest}/orders?status=shipped", None, "rest_invalid_param"),
        ("GET", f"{rest}/customers?orderby=email", None, "rest_invalid_param"),
        ("POST", f"{rest}/customers", {"first_name": "No email"}, "rest_missing_callback_param"),
        ("POST", f"{rest}/products", {"regular_price": 9.5}, "rest_invalid_param"),
        ("DELETE", f"{rest}/customers/1?force=maybe", None, "rest_invalid_param"),
    ]
    for method, url, body, code in cases:
        response = requests.request(method, url, json=body, timeout=5)
        assert (response.status_code, response.json()["code"]) == (400, code), url
    # valid arguments still meet the permission check
    assert error(requests.get(f"{rest}/products", params={"per_page": 100, "stock_status": "instock"}, timeout=5)) == (
        401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    assert error(requests.post(f"{rest}/products", json={"name": "x"}, timeout=5)) == (
        401, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
    refunds = requests.get(f"{rest}/orders/1/refunds", params={"per_page": 101}, timeout=5)
    assert error(refunds)[:2] == (400, "rest_invalid_param")
    assert api(store).get("products").json()[0]["sku"] == "TEE-1"  # nothing was written
