"""Verifies Informly tokens with independent implementations, using only the
published key documents: PASETO with pyseto (from paserk.json), JWT with PyJWT
(from jwks.json).

    python3 verify.py PASERK_JSON JWKS_JSON ISSUER AUDIENCE TOKEN...

Prints one line per token and exits non-zero if any fails to verify.
"""

import base64
import json
import sys

import jwt
import pyseto
from pyseto import Key


def paseto(token, paserk_doc):
    footer_b64 = token.split(".")[3]
    footer = json.loads(base64.urlsafe_b64decode(footer_b64 + "=" * (-len(footer_b64) % 4)))
    entry = next(k for k in paserk_doc["keys"] if k["kid"] == footer["kid"])
    key = Key.from_paserk(entry["paserk"])
    assert key.to_paserk_id() == footer["kid"], "the kid is the key's k4.pid"
    decoded = pyseto.decode(key, token, deserializer=json)
    return decoded.payload


def jwt_token(token, jwks_doc, issuer, audience):
    keys = jwt.PyJWKSet.from_dict(jwks_doc)
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt" and header["alg"] == "EdDSA", header
    key = next(k for k in keys.keys if k.key_id == header["kid"])
    return jwt.decode(
        token,
        key.key,
        algorithms=["EdDSA"],
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
    )


def main():
    paserk_path, jwks_path, issuer, audience, *tokens = sys.argv[1:]
    paserk_doc = json.load(open(paserk_path))
    jwks_doc = json.load(open(jwks_path))
    failed = 0
    for token in tokens:
        try:
            if token.startswith("v4.public."):
                claims = paseto(token, paserk_doc)
                kind = "pyseto " + pyseto.__version__
            else:
                claims = jwt_token(token, jwks_doc, issuer, audience)
                kind = "PyJWT " + jwt.__version__
            assert claims["sub"] == claims["client_id"], claims
            assert claims["iss"] == issuer and claims["aud"] == audience, claims
            print(f"ok {kind}: {claims['jti']} scope={claims['scope']!r}")
        except Exception as e:  # report every token, then fail
            failed += 1
            print(f"FAILED {token[:24]}…: {e!r}")
    sys.exit(1 if failed else 0)


main()
