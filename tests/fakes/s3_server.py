"""A real S3-protocol server on loopback: moto's server, behind a check of presigned URLs.

moto stores and serves objects as S3 does (PUT, multipart uploads, GET with ranges, HEAD,
DELETE) but accepts any presigned URL, even an altered or expired one. Real S3 refuses those
with 403, so this server checks each presigned GET or HEAD first, as S3 does: the SigV4 query
signature over the method, the path, the query and the host, and ``X-Amz-Date`` +
``X-Amz-Expires`` against the clock.

    with S3Server() as s3:
        s3.create_bucket("parley-media")
        settings = make_settings(..., storage_url="s3://parley-media/prefix", **s3.settings())
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote

import boto3
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

ACCESS_KEY = "parley-test-key"
SECRET_KEY = "parley-test-secret"
REGION = "us-east-1"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PresignedUrlCheck:
    def __init__(self, app: WsgiApp, secret_key: str) -> None:
        self.app = app
        self.secret_key = secret_key
        self.refused: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        query = environ.get("QUERY_STRING", "")
        if "X-Amz-Signature=" in query and environ["REQUEST_METHOD"] in ("GET", "HEAD"):
            reason = self._problem(environ, query)
            if reason is not None:
                self.refused.append(reason)
                body = (
                    f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
                    f"<Message>{reason}</Message></Error>"
                ).encode()
                start_response(
                    "403 Forbidden",
                    [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
                )
                return [body]
        return self.app(environ, start_response)

    def _problem(self, environ: dict[str, Any], query: str) -> str | None:
        params = parse_qsl(query, keep_blank_values=True)
        given = dict(params)
        try:
            signed_at = datetime.strptime(given["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            expires = int(given["X-Amz-Expires"])
            scope = given["X-Amz-Credential"].split("/", 1)[1]
        except (KeyError, ValueError, IndexError):
            return "AuthorizationQueryParametersError"
        canonical_query = "&".join(
            f"{quote(key, safe='-_.~')}={quote(value, safe='-_.~')}"
            for key, value in sorted(params)
            if key != "X-Amz-Signature"
        )
        path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ["PATH_INFO"]
        canonical = "\n".join(
            [
                environ["REQUEST_METHOD"],
                path.split("?", 1)[0],
                canonical_query,
                f"host:{environ['HTTP_HOST']}\n",
                given.get("X-Amz-SignedHeaders", "host"),
                "UNSIGNED-PAYLOAD",
            ]
        )
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                given["X-Amz-Date"],
                scope,
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        key = ("AWS4" + self.secret_key).encode()
        for part in scope.split("/"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, given["X-Amz-Signature"]):
            return "SignatureDoesNotMatch"
        if datetime.now(UTC) > signed_at + timedelta(seconds=expires):
            return "Request has expired"
        return None


class S3Server:
    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
        self.check = PresignedUrlCheck(DomainDispatcherApplication(create_backend_app), SECRET_KEY)
        self._server = make_server("127.0.0.1", 0, self.check, threaded=True)
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def settings(self) -> dict[str, Any]:
        """Parley's settings for this server (with ``storage_url="s3://bucket/prefix"``)."""
        return {
            "storage_s3_endpoint_url": self.endpoint_url,
            "storage_s3_region": REGION,
            "storage_s3_access_key_id": ACCESS_KEY,
            "storage_s3_secret_access_key": SECRET_KEY,
        }

    def __enter__(self) -> S3Server:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
