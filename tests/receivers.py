"""Real receivers on 127.0.0.1 for notification tests: an HTTP server recording what json://
and form:// post (it can be told to fail), and an SMTP server (aiosmtpd) that requires
STARTTLS and AUTH, with a self-signed certificate made at test time."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Request:
    path: str
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


@dataclass
class HTTPReceiver:
    """Records every POST; answers `status` (500 makes the channel fail)."""

    port: int = 0
    status: int = 200
    requests: list[Request] = field(default_factory=list)

    def url(self, scheme: str, path: str = "/hook") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"


@contextmanager
def http_receiver() -> Iterator[HTTPReceiver]:
    receiver = HTTPReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver.requests.append(Request(self.path, self.headers["Content-Type"], body))
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, made now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "smtp.crt", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SMTPReceiver:
    port: int
    user: str
    password: str
    messages: list[EmailMessage] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    tls: list[bool] = field(default_factory=list)  # per message: was the session encrypted

    def url(self, to: str = "oncall@example.com") -> str:
        return (f"mailto://{self.user}:{self.password}@127.0.0.1:{self.port}"
                f"?mode=starttls&verify=no&from=urs@example.com&to={to}")


@contextmanager
def smtp_receiver(folder: Path, user: str = "alerts",
                  password: str = "s3cret-smtp-pass",  # noqa: S107 - made up for the test
                  ) -> Iterator[SMTPReceiver]:
    """An SMTP server that refuses mail without STARTTLS and AUTH."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = self_signed(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    receiver = SMTPReceiver(0, user, password)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and \
            (auth_data.login.decode(), auth_data.password.decode()) == (user, password)
        if ok:
            receiver.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any,  # noqa: N802 - aiosmtpd's name
                              envelope: Any) -> str:
            receiver.tls.append(session.ssl is not None)
            receiver.messages.append(message_from_bytes(  # type: ignore[arg-type]
                envelope.original_content, policy=policy.default))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port(),
                            tls_context=context,
                            require_starttls=True, auth_required=True,
                            authenticator=authenticate, auth_require_tls=True)
    controller.start()
    receiver.port = controller.port
    try:
        yield receiver
    finally:
        controller.stop()
