#!/usr/bin/env python3
"""Generates Tests/WireTapeArchiveTests/Fixtures/sigv4-botocore.json: AWS Signature V4 (S3)
vectors computed by botocore's S3SigV4Auth, the signer of the AWS CLI and boto3, with the
clock frozen. WireTape's signer must produce the same canonical request and Authorization
header for each. Run once (system python3 with botocore); the output is committed.

    python3 tools/archive/sigv4_vectors.py > Tests/WireTapeArchiveTests/Fixtures/sigv4-botocore.json
"""
import datetime, hashlib, json
from urllib.parse import quote
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AKID, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

def case(name, method, host, bucket, key, query=None, headers=None, body=b"", region="us-east-1",
         when="2013-05-24T00:00:00", token=None):
    when_dt = datetime.datetime.fromisoformat(when).replace(tzinfo=datetime.timezone.utc)
    botocore.auth.get_current_datetime = lambda *a, **k: when_dt
    parts = ([bucket] if bucket else []) + ([quote(key, safe="/~")] if key is not None else [])
    path = "/" + "/".join(parts)
    req = AWSRequest(method=method, url="http://" + host + path, data=body, params=dict(query or {}),
                     headers=dict(headers or {}))
    req.headers["Host"] = host
    auth = botocore.auth.S3SigV4Auth(Credentials(AKID, SECRET, token), "s3", region)
    seen = []
    original = auth.canonical_request
    auth.canonical_request = lambda r: seen.append(original(r)) or seen[-1]
    auth.add_auth(req)
    canonical = seen[-1]
    return {
        "name": name, "method": method, "host": host, "bucket": bucket, "key": key,
        "query": sorted((query or {}).items()), "headers": sorted((headers or {}).items()),
        "payload_sha256": hashlib.sha256(body).hexdigest(), "region": region,
        "amz_date": when_dt.strftime("%Y%m%dT%H%M%SZ"), "session_token": token,
        "canonical_request": canonical,
        "authorization": req.headers["Authorization"],
    }

cases = [
    case("doc: GET object with Range", "GET", "examplebucket.s3.amazonaws.com", "", "test.txt",
         headers={"Range": "bytes=0-9"}),
    case("GET a plain key", "GET", "127.0.0.1:8333", "journals", "feed/segments/seg-00000000000000000001.wtj"),
    case("GET with a range", "GET", "127.0.0.1:8333", "journals", "a/b.wtj", headers={"Range": "bytes=40-1119"}),
    case("PUT with a body and Content-MD5", "PUT", "s3.eu-west-1.amazonaws.com", "my-bucket", "x/index-00000000000000000042.sqlite",
         headers={"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==", "Content-Type": "application/octet-stream"},
         body=b"Welcome to Amazon S3.", region="eu-west-1", when="2026-12-02T08:01:02"),
    case("HEAD", "HEAD", "localhost:9000", "b", "manifest.json", when="2026-01-31T23:59:59"),
    case("DELETE", "DELETE", "localhost:9000", "b", "p/q/r", region="auto"),
    case("ListObjectsV2 with prefix and token", "GET", "127.0.0.1:8333", "journals", None,
         query={"list-type": "2", "prefix": "feeds/btc usd/", "continuation-token": "abc+/=def", "delimiter": "/"}),
    case("key with spaces, unicode and reserved characters", "GET", "127.0.0.1:8333", "journals",
         "feeds/BTC USD/été+(1)=*!$'@,;:~.wtj"),
    case("session token", "PUT", "s3.us-west-2.amazonaws.com", "bkt", "k", body=b"",
         region="us-west-2", token="FQoGZXIvYXdzEBYaDHVzZXJzZXNzaW9udG9rZW4="),
    case("empty prefix listing, max-keys", "GET", "h:1", "bkt", None, query={"list-type": "2", "max-keys": "1000"}),
]
print(json.dumps({"generator": "botocore " + botocore.__version__ + " S3SigV4Auth, clock frozen, see tools/archive/sigv4_vectors.py",
                  "access_key_id": AKID, "secret_access_key": SECRET, "cases": cases}, indent=1, ensure_ascii=False))
