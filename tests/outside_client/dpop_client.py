"""An outside DPoP client: a second implementation of RFC 9449 proofs and draft-rosomakho-oauth-dpop-rt
DPoP-RT proofs (Python `cryptography`, standard-library HTTP), walking the steps of README's
"Talk to the testbed" section against `leaklab testbed serve`:

1. read the JSON line `testbed serve` printed (stdin);
2. refresh at the token endpoint with a DPoP proof (key A, for the access token) and a DPoP-RT
   proof (key B, which binds the refresh token);
3. call the resource server with the DPoP-bound access token and a proof with `ath`;
4. refresh again with the rotated refresh token: works with key B, refused without it.

Prints one JSON object with what happened; exits non-zero on any unexpected answer.
"""
import base64
import hashlib
import json
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Key:
    def __init__(self):
        self.private = ec.generate_private_key(ec.SECP256R1())
        nums = self.private.public_key().public_numbers()
        self.jwk = {"kty": "EC", "crv": "P-256",
                    "x": b64u(nums.x.to_bytes(32, "big")), "y": b64u(nums.y.to_bytes(32, "big"))}

    def thumbprint(self) -> str:
        # RFC 7638: required members in lexicographic order, no whitespace.
        canon = json.dumps({k: self.jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
        return b64u(hashlib.sha256(canon.encode()).digest())

    def proof(self, typ: str, htm: str, htu: str, **claims) -> str:
        header = {"typ": typ, "alg": "ES256", "jwk": self.jwk}
        body = {"jti": str(uuid.uuid4()), "htm": htm, "htu": htu, "iat": int(time.time()), **claims}
        signing_input = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(body).encode())
        der = self.private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def sha_b64(text: str) -> str:
    return b64u(hashlib.sha256(text.encode()).digest())


def request(ctx, url, method="GET", headers=None, form=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=20) as resp:
            return resp.status, json.loads(resp.read() or b"null"), dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), dict(e.headers)


def refresh(ctx, cfg, rt, at_key, rt_key):
    headers = {"DPoP": at_key.proof("dpop+jwt", "POST", cfg["token_endpoint"])}
    if rt_key is not None:
        headers["DPoP-RT"] = rt_key.proof("dpop-rt+jwt", "POST", cfg["token_endpoint"], rth=sha_b64(rt))
    return request(ctx, cfg["token_endpoint"], "POST", headers,
                   {"grant_type": "refresh_token", "refresh_token": rt, "client_id": cfg["client_id"]})


def main():
    cfg = json.loads(sys.stdin.readline())
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as f:
        f.write(cfg["ca_pem"])
    ctx = ssl.create_default_context(cafile=f.name)
    at_key, rt_key = Key(), Key()
    out = {}

    status, body, _ = refresh(ctx, cfg, cfg["refresh_token"], at_key, rt_key)
    out["refresh"] = status
    if status != 200 or body.get("token_type") != "DPoP":
        print(json.dumps({"failed": "first refresh", "status": status, "body": body}))
        return 1
    at, rt2 = body["access_token"], body["refresh_token"]

    api = cfg["api"]
    proof = at_key.proof("dpop+jwt", "GET", api, ath=sha_b64(at))
    status, body, _ = request(ctx, api, headers={"Authorization": "DPoP " + at, "DPoP": proof})
    out["call"] = status
    if status != 200:
        print(json.dumps({"failed": "resource call", "status": status, "body": body}))
        return 1
    # The same proof again: a replay, also at the second resource-server instance.
    second = cfg["resource_servers"][1] + "/api/records"
    status, body, headers = request(ctx, second, headers={"Authorization": "DPoP " + at, "DPoP": proof})
    out["replay_other_instance"] = [status, body.get("error") if body else None]

    status, body, _ = refresh(ctx, cfg, rt2, Key(), None)
    out["refresh_without_rt_key"] = [status, body.get("error") if body else None]
    # That attempt presented rt2 without its key: refused before rotation, so rt2 still works.
    status, body, _ = refresh(ctx, cfg, rt2, Key(), rt_key)
    out["refresh_with_rt_key"] = status
    print(json.dumps(out))
    ok = (out["replay_other_instance"][0] == 401 and out["refresh_without_rt_key"][0] == 400
          and out["refresh_with_rt_key"] == 200)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
