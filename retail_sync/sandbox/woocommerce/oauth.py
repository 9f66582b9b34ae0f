"""OAuth 1.0a one-legged signature checking exactly as `WC_REST_Authentication` does it (reference §2.1).

Written from the PHP, quirks included, so a client that signs differently from a real store fails here too:
parameters are what PHP's `$_GET`/`$_POST` hold (already decoded, last duplicate wins, `a[]` nested), merged with
the `Authorization: OAuth` header; keys and values are `rawurlencode`d, `key=value` is encoded again, pairs are
joined with `%26`; nested arrays sign as `a%5B0%5D`; the consumer's signature is decoded once more after `' '`
is turned back into `+`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

REQUIRED = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")
METHODS = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}
_HEADER_PARAM = re.compile(r'(oauth_[a-z_-]*)=(:?"([^"]*)"|([^,]*))')


class OAuthFailure(Exception):
    """A failed check; `message` is the store's own text (all are 401 `woocommerce_rest_authentication_error`)."""

    def __init__(self, message: str, code: str = "woocommerce_rest_authentication_error") -> None:
        super().__init__(message)
        self.message, self.code = message, code


def header_params(header: str) -> dict[str, str]:
    """`parse_header()`: the oauth_* pairs of an `Authorization: OAuth ...` header (`urldecode`d)."""
    header = header.strip()
    if not header.startswith("OAuth "):
        return {}
    return {m.group(1): unquote_plus(m.group(3) or m.group(4)) for m in _HEADER_PARAM.finditer(header)}


def collect(query: dict[str, Any], form: dict[str, Any], header: str) -> dict[str, Any] | None:
    """`get_oauth_parameters()`: None when no OAuth parameter is present at all (not an OAuth request);
    raises for a partial set."""
    params = {**query, **form, **header_params(header)}
    missing = [name for name in REQUIRED if php_empty(params.get(name))]
    if len(missing) == len(REQUIRED):
        return None
    if missing:
        noun = "parameter" if len(missing) == 1 else "parameters"
        raise OAuthFailure(f"Missing OAuth {noun} {', '.join(missing)}",
                           "woocommerce_rest_authentication_missing_parameter")
    return params


def verify_signature(params: dict[str, Any], secret: str, method: str, base_url: str) -> None:
    """`check_oauth_signature()` for `base_url` (scheme://host[:port]/path as the client addressed the store)."""
    consumer_signature = unquote(str(params["oauth_signature"]).replace(" ", "+"))
    signed = {k: v for k, v in params.items() if k != "oauth_signature"}
    pairs = _join_with_equals_sign({_rawurlencode(k): _encode_values(v) for k, v in
                                    sorted(signed.items(), key=lambda item: item[0].encode())})
    string_to_sign = f"{method.upper()}&{_rawurlencode(base_url)}&{'%26'.join(pairs)}"
    algorithm = METHODS.get(str(params["oauth_signature_method"]))
    if algorithm is None:
        raise OAuthFailure("Invalid signature - signature method is invalid.")
    expected = base64.b64encode(hmac.new(f"{secret}&".encode(), string_to_sign.encode(), algorithm).digest())
    if not hmac.compare_digest(expected.decode(), consumer_signature):
        raise OAuthFailure("Invalid signature - provided signature does not match.")


def _encode_values(value: Any) -> Any:
    if isinstance(value, list):
        return {str(i): _encode_values(v) for i, v in enumerate(value)}
    if isinstance(value, dict):
        return {k: _encode_values(v) for k, v in value.items()}
    return _rawurlencode(value)


def _join_with_equals_sign(params: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in params.items():
        if prefix:
            key = f"{prefix}%5B{key}%5D"  # nested keys are not encoded before this, as in PHP
        if isinstance(value, dict):
            out.extend(_join_with_equals_sign(value, key))
        else:
            out.append(_rawurlencode(f"{key}={value}"))
    return out


def _rawurlencode(value: Any) -> str:
    return quote(str(value), safe="-_.~")


def php_empty(value: Any) -> bool:
    return value is None or value == "" or value == "0" or value == [] or value == {}
