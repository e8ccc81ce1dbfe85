"""Secrets never reach a log line: the root redactor alone, then a real ``mentiondesk -vv worker`` run whose X
calls (bearer reads and an OAuth 1 reply) go through real tweepy, requests_oauthlib and TLS to a fake X on
127.0.0.1, with every configured secret grepped for in what it logged."""

from __future__ import annotations

import datetime as dt
import http.server
import io
import json
import logging
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from requests_oauthlib import OAuth1
from sqlalchemy import select

from connectors.base import FatalError
from console.log_redaction import REDACTED, SecretRedactor, install
from console.secrets import Secrets, configured_secret_values, env_name
from console.services.replies.outbox import queue_reply
from console.services.store import open_store
from storage.models import Mention, Reply

FIXTURES = Path(__file__).parent / "fixtures" / "x"
CONSUMER_KEY = "FakeConsumerKey0x25chars9"
ACCESS_TOKEN = "1500000000000000001-FakeAccessTokenFor0Tests9z"
CONSUMER_SECRET = "FakeConsumerSecret/with+signs=and50characters00000"
TOKEN_SECRET = "FakeAccessTokenSecret-45-characters-long00000"
BEARER = "AAAAAAAAAAAAAAAAAAAAAFakeBearer%2Fwith%3Dencoded0123456789"


# --- the filter on its own ----------------------------------------------------------------------


def _logged(redactor: SecretRedactor, emit: object) -> str:
    """What a root handler carrying ``redactor`` prints while ``emit`` logs (any logger, DEBUG)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(redactor)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        emit()  # type: ignore[operator]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    return out.getvalue()


def test_configured_values_are_redacted_in_messages_args_and_tracebacks() -> None:
    redactor = SecretRedactor([CONSUMER_KEY, CONSUMER_SECRET])
    log = logging.getLogger("some.library")

    def emit() -> None:
        log.debug("client key %s", CONSUMER_KEY)
        log.debug("base string POST&oauth_secret%%3D%s", quote(quote(CONSUMER_SECRET, safe=""), safe=""))
        log.info({"key": CONSUMER_KEY})
        try:
            raise ValueError(f"refused {CONSUMER_SECRET}")
        except ValueError:
            log.exception("call failed")
        log.warning("stack", stack_info=True, extra={})

    text = _logged(redactor, emit)
    assert CONSUMER_KEY not in text and CONSUMER_SECRET not in text
    assert quote(CONSUMER_SECRET, safe="") not in text and "refused [redacted]" in text
    assert text.count(REDACTED) >= 4 and "Traceback" in text  # the traceback is kept, only redacted


def test_short_values_are_left_alone_so_words_survive() -> None:
    redactor = SecretRedactor(["abc", "  ", ""])
    assert redactor.redact("abcdef and abc") == "abcdef and abc"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("Headers: {'Authorization': 'OAuth oauth_nonce=\"1\", oauth_consumer_key=\"ckunknown1\"'}", "ckunknown1"),
        ('Headers: {"Authorization": "Bearer unknownbearer123"}', "unknownbearer123"),
        ("Authorization: Basic dXNlcjpzZWNyZXRwdw==", "dXNlcjpzZWNyZXRwdw=="),
        ("sent with Bearer AAAA%2Funknown%3Dtoken", "AAAA%2Funknown%3Dtoken"),
        ("POST&x&oauth_consumer_key%3Dkey0unknown%26oauth_nonce%3D1%26oauth_token%3Dtok0unknown", "key0unknown"),
        ("POST&x&oauth_nonce%3D1%26oauth_token%3Dtok0unknown%26oauth_version%3D1.0", "tok0unknown"),
        ('oauth_signature="sig%2Bunknown%3D"', "sig%2Bunknown"),
        ("<Client client_key=ck0unknown, resource_owner_key=rok0unknown>", "ck0unknown"),
        ("<Client client_key=ck0unknown, resource_owner_key=rok0unknown>", "rok0unknown"),
        ("GET /api/v1/x?access_token=tok0unknown&limit=5", "tok0unknown"),
        ('{"access_token": "tok 0 unknown", "expires_in": 7200}', "tok 0 unknown"),
        ("{'password': 'pw0unknown'}", "pw0unknown"),
        ("login(username=skyline, password=pw0unknown)", "pw0unknown"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl done", "eyJzdWIiOiIxMjMifQ"),
        ("connecting to postgresql://desk:pw0unknown@db:5432/desk", "pw0unknown"),
    ],
)
def test_credential_shapes_are_redacted_even_when_not_configured(line: str, secret: str) -> None:
    redacted = SecretRedactor().redact(line)
    assert secret not in redacted and REDACTED in redacted, redacted


@pytest.mark.parametrize(
    "line",
    [
        "password: must be at least 12 characters",
        "Basic checks passed; Token expired for source x-mentions",
        "the bearer token was refused (401)",
        "X mentions: 3 posts read (about $0.003)",
        "GET https://api.twitter.com/2/users/1/mentions?max_results=100 200",
    ],
)
def test_ordinary_lines_are_not_mangled(line: str) -> None:
    assert SecretRedactor([CONSUMER_KEY]).redact(line) == line


def test_install_covers_root_handlers_and_the_last_resort_and_is_idempotent() -> None:
    handler = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        redactor = install(["install-test-secret"])
        install(["install-test-secret"])
        assert handler.filters.count(redactor) == 1
        assert logging.lastResort is not None and redactor in logging.lastResort.filters
        assert redactor.redact("x install-test-secret y") == f"x {REDACTED} y"
    finally:
        root.removeHandler(handler)


def test_real_oauth1_signing_logs_no_key_or_token() -> None:
    """requests_oauthlib and oauthlib, as tweepy drives them for a reply, at DEBUG."""
    redactor = SecretRedactor([CONSUMER_KEY, ACCESS_TOKEN, CONSUMER_SECRET, TOKEN_SECRET])
    auth = OAuth1(CONSUMER_KEY, CONSUMER_SECRET, ACCESS_TOKEN, TOKEN_SECRET)
    request = requests.Request("POST", "https://api.twitter.com/2/tweets", json={"text": "hi"}, auth=auth)
    text = _logged(redactor, request.prepare)
    assert "signature base string" in text and "Updated headers" in text  # the lines that carried them
    for secret in (CONSUMER_KEY, ACCESS_TOKEN, CONSUMER_SECRET, TOKEN_SECRET):
        assert secret not in text and quote(secret, safe="") not in text


def test_configured_secret_values_come_from_env_and_the_secrets_file(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text('[sources.masto]\naccess_token = "masto-file-token"\n[alerts]\nwebhook = ["hook-url-0"]\n')
    env = {
        env_name("x-mentions", "bearer_token"): "env-bearer-token",
        "MENTIONDESK_DATABASE_URL": "postgresql://desk:db-password-1@h/desk",
        "MENTIONDESK_CONFIG": "/etc/mentiondesk.toml",
        "MENTIONDESK_SMTP_HOST": "smtp.example",
        "HOME": "/root",
    }
    values = configured_secret_values(env, secrets_file)
    assert sorted(values) == sorted(["env-bearer-token", "db-password-1", "masto-file-token", "hook-url-0"])


def test_secrets_handed_out_later_are_redacted_too(tmp_path: Path) -> None:
    from console.log_redaction import REDACTOR

    secrets = Secrets(env={env_name("late", "access_token"): "late-handed-out-token"})
    assert secrets.get("late", "access_token") == "late-handed-out-token"
    assert REDACTOR.redact("token late-handed-out-token") == f"token {REDACTED}"


def test_a_secrets_file_that_is_not_utf8_is_a_plain_error(tmp_path: Path) -> None:
    bad = tmp_path / "secrets.toml"
    bad.write_bytes(b'[sources.x]\nbearer_token = "caf\xe9"\n')
    with pytest.raises(FatalError, match="cannot read the secrets file .*UnicodeDecodeError"):
        Secrets.load(bad, env={})


# --- a real -vv worker run against a fake X behind TLS -------------------------------------------


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for api.twitter.com signed by it (the worker trusts only the CA)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mentiondesk test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.twitter.com")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("api.twitter.com")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, cert_pem, key_pem = folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_pem, cert_pem, key_pem


class FakeX(http.server.BaseHTTPRequestHandler):
    """An HTTPS proxy that answers as X itself: CONNECT, then TLS as api.twitter.com, then X API v2 JSON."""

    protocol_version = "HTTP/1.1"
    tls: ClassVar[ssl.SSLContext]
    seen: ClassVar[list[tuple[str, str, str]]] = []

    def do_CONNECT(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200, "Connection established")
        self.end_headers()
        self.connection = self.tls.wrap_socket(self.connection, server_side=True)
        self.rfile = self.connection.makefile("rb")
        self.wfile = self.connection.makefile("wb", buffering=0)
        self.close_connection = False

    def do_GET(self) -> None:  # noqa: N802
        self._record()
        if "/mentions" in self.path:
            self._json(json.loads((FIXTURES / "mentions_page1.json").read_text()))
        else:
            self._json({"data": []})

    def do_POST(self) -> None:  # noqa: N802
        self._record()
        self._json(json.loads((FIXTURES / "create_tweet.json").read_text()), status=201)

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.seen.append((f"{self.command} {self.path}", self.headers.get("Authorization", ""), body))

    def _json(self, payload: object, status: int = 200) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_x(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    ca, cert, key = _certificates(tmp_path)
    FakeX.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    FakeX.tls.load_cert_chain(cert, key)
    FakeX.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeX)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", ca
    server.shutdown()
    server.server_close()


CONFIG = """
[[brands]]
name = "Acme"
handles = { x = "acme_help" }

[[sources]]
name = "x-mentions"
platform = "x"
kind = "mentions"
brand = "Acme"
interval = 3600
options = { user_id = "1500000000000000001" }
"""


def _worker(tmp_path: Path, url: str, env: dict[str, str]) -> str:
    """``mentiondesk -vv worker --once`` as a child process; returns everything it wrote."""
    command = [sys.executable, "-P", "-m", "console.cli", "-vv", "worker", "--once", "--no-classify"]
    command += ["--config", str(tmp_path / "mentiondesk.toml"), "--database-url", url]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    return output


def test_a_vv_worker_run_logs_no_secret_of_any_kind(tmp_path: Path, fake_x: tuple[str, Path]) -> None:
    proxy, ca = fake_x
    (tmp_path / "mentiondesk.toml").write_text(CONFIG, encoding="utf-8")
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(
        f'[sources.x-mentions]\nconsumer_secret = "{CONSUMER_SECRET}"\naccess_token_secret = "{TOKEN_SECRET}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and not k.startswith("MENTIONDESK")}
    env |= {
        "HTTPS_PROXY": proxy,
        "REQUESTS_CA_BUNDLE": str(ca),
        "MENTIONDESK_SECRETS_FILE": str(secrets_file),
        env_name("x-mentions", "bearer_token"): BEARER,
        env_name("x-mentions", "consumer_key"): CONSUMER_KEY,
        env_name("x-mentions", "access_token"): ACCESS_TOKEN,
    }
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    logs = _worker(tmp_path, url, env)  # reads the mention timeline with the bearer token
    store = open_store(url)
    with store.transaction() as session:
        mention_id = session.scalar(select(Mention.id).where(Mention.external_id == "1896541234567890105"))
        assert mention_id is not None, logs[-3000:]
        queue_reply(session, mention_id, "So sorry, we are on it", None, "log-secrets-1")
    logs += _worker(tmp_path, url, env)  # sends the reply, signed with OAuth 1
    with store.read() as session:
        assert session.scalar(select(Reply.external_id)) == "1896541234567899001", logs[-3000:]
    store.dispose()

    sent = dict((request, auth) for request, auth, _ in FakeX.seen)
    assert any(r.startswith("GET /2/users/1500000000000000001/mentions") for r in sent)
    signed = sent["POST /2/tweets"]
    assert signed.startswith("OAuth ") and f'oauth_consumer_key="{CONSUMER_KEY}"' in signed  # the keys went to X …
    for marker in ("Making API request", "Signing request", "Updated headers", "signature base string"):
        assert marker in logs, marker  # … the lines that print them were logged at -vv …
    for secret in (BEARER, CONSUMER_KEY, ACCESS_TOKEN, CONSUMER_SECRET, TOKEN_SECRET):
        for form in {secret, quote(secret, safe=""), quote(quote(secret, safe=""), safe="")}:
            assert form not in logs, f"a secret reached the log: {form[:6]}…"  # … and not one value is in them
    assert REDACTED in logs
