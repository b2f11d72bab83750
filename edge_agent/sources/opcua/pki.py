"""The edge's OPC UA certificate store: its own application instance certificate and a trust list.

Laid out as OPC UA tools lay out a PKI folder (UA-.NETStandard, open62541, UaExpert):

    pki/own/certs/       our application instance certificate (DER)
    pki/own/private/     its private key (PEM, mode 0600)
    pki/trusted/certs/   server certificates we trust (self-signed, or CA certificates)
    pki/trusted/crl/     revocation lists of trusted CAs
    pki/rejected/certs/  server certificates we refused, named by SHA-1 thumbprint
    pki/issuers/certs/   CA certificates for chain building only (not trusted by themselves)
    pki/issuers/crl/

Our certificate is created on first use, self-signed, with ApplicationUri
`urn:factory-twin:edge:{agent}` as URI and the host name as DNS subject alternative name
(OPC UA Part 6 §6.2.2), the same URI the client announces in CreateSession.

A server certificate is checked with asyncua's `CertificateValidator` in
TRUSTED_VALIDATION mode over a `TrustStore` of `trusted/certs`: asyncua's default check
uses no trust list at all (DESIGN.md §9), so without this any server would be accepted.
An untrusted one is copied to `rejected/certs/{thumbprint}.der`, and `twin certs trust
{thumbprint}` moves it to `trusted/certs/`.

All functions here do blocking file I/O: call them from a worker thread in a coroutine.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from twin.errors import TwinError

KEY_MODE = 0o600
# Self-signed application certificates of OPC UA tools are usually valid for a few years;
# renewing is `twin certs renew` (and re-trusting on each server), so not too short.
CERT_DAYS = 3 * 365
SUBDIRS = ("own/certs", "own/private", "trusted/certs", "trusted/crl", "rejected/certs", "issuers/certs",
           "issuers/crl")
_CERT_SUFFIXES = (".der", ".pem", ".crt", ".cer")


class PkiError(TwinError):
    """A certificate store operation that cannot be done; the message says why."""


class UntrustedCertificateError(PkiError):
    """The server's certificate is not in the trust list (it was copied to rejected/)."""

    def __init__(self, thumbprint: str, subject: str, reason: str) -> None:
        self.thumbprint = thumbprint
        super().__init__(f"server certificate {subject} (thumbprint {thumbprint}) is not trusted ({reason}); "
                         f"it was saved in pki/rejected/certs/; to trust it run: twin certs trust {thumbprint}")


def application_uri(agent: str | None = None) -> str:
    """The edge's ApplicationUri: `urn:factory-twin:edge:{agent or host name}`."""
    return f"urn:factory-twin:edge:{agent or socket.gethostname()}"


def thumbprint(cert: x509.Certificate) -> str:
    """SHA-1 of the DER certificate as lower-case hex: the thumbprint OPC UA tools show (Part 4 §7.1)."""
    return hashlib.sha1(cert.public_bytes(Encoding.DER), usedforsecurity=False).hexdigest()


def subject_of(cert: x509.Certificate) -> str:
    """The subject's common name, else the whole subject."""
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cn[0].value) if cn else cert.subject.rfc4514_string()


def uris_of(cert: x509.Certificate) -> list[str]:
    """The certificate's URI subject alternative names (its ApplicationUri)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return list(san.value.get_values_for_type(x509.UniformResourceIdentifier))


def load_cert(path: Path) -> x509.Certificate:
    """A certificate from a DER or PEM file."""
    data = path.read_bytes()
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


@dataclass(frozen=True, slots=True)
class StoredCert:
    """A certificate file in the store."""

    path: Path
    cert: x509.Certificate

    @property
    def thumbprint(self) -> str:
        """SHA-1 thumbprint (lower-case hex)."""
        return thumbprint(self.cert)


class Pki:
    """The PKI folder of one edge agent (`$TWIN_STATE_DIR/pki`)."""

    def __init__(self, root: Path, *, application_uri: str, host_name: str | None = None) -> None:
        self.root = Path(root)
        self.application_uri = application_uri
        self.host_name = host_name or socket.gethostname()

    @property
    def cert_path(self) -> Path:
        """Our application instance certificate (DER)."""
        return self.root / "own" / "certs" / "cert.der"

    @property
    def key_path(self) -> Path:
        """Our private key (PEM, 0600)."""
        return self.root / "own" / "private" / "key.pem"

    def dir(self, name: str) -> Path:
        """A folder of the store, e.g. `dir("trusted/certs")`."""
        return self.root / name

    def make_dirs(self) -> None:
        """Create the store's folders; the private one readable by us only."""
        for sub in SUBDIRS:
            self.dir(sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir("own/private"), 0o700)

    def ensure(self) -> x509.Certificate:
        """Create the folders, and our key and certificate unless they exist and fit; our certificate."""
        self.make_dirs()
        if self.key_path.is_file() and self.cert_path.is_file():
            cert = load_cert(self.cert_path)
            if self.application_uri in uris_of(cert) and cert.not_valid_after_utc > datetime.now(UTC):
                return cert
        return self.renew()

    def renew(self) -> x509.Certificate:
        """A new private key and self-signed certificate (the old ones are replaced)."""
        from asyncua.crypto import cert_gen

        self.make_dirs()
        key = cert_gen.generate_private_key()
        names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(self.application_uri),
                                         x509.DNSName(self.host_name)]
        cert = cert_gen.generate_self_signed_app_certificate(
            key, f"factory-twin edge {self.host_name}", {"organizationName": "factory-twin"}, names,
            extended=[ExtendedKeyUsageOID.CLIENT_AUTH], days=CERT_DAYS)
        _write(self.key_path, cert_gen.dump_private_key_as_pem(key), KEY_MODE)
        _write(self.cert_path, cert.public_bytes(Encoding.DER), 0o644)
        return cert  # type: ignore[no-any-return]

    def own(self) -> x509.Certificate:
        """Our certificate; PkiError if there is none yet."""
        if not self.cert_path.is_file():
            raise PkiError(f"no certificate yet in {self.cert_path.parent} (created on the first secured "
                           "connection, or by `twin certs renew`)")
        return load_cert(self.cert_path)

    def listing(self, name: str) -> list[StoredCert]:
        """The certificates in one folder (`trusted/certs` or `rejected/certs`), by file name."""
        folder = self.dir(name)
        if not folder.is_dir():
            return []
        out: list[StoredCert] = []
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in _CERT_SUFFIXES and path.is_file():
                try:
                    out.append(StoredCert(path, load_cert(path)))
                except ValueError:
                    continue  # not a certificate; other tools may leave files here
        return out

    def save_rejected(self, cert: x509.Certificate) -> Path:
        """Copy a refused certificate to `rejected/certs/{thumbprint}.der`."""
        path = self.dir("rejected/certs") / f"{thumbprint(cert)}.der"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            _write(path, cert.public_bytes(Encoding.DER), 0o644)
        return path

    def trust(self, thumb: str) -> Path:
        """Move a certificate from rejected to trusted; its new path."""
        return self._move(thumb, "rejected/certs", "trusted/certs")

    def reject(self, thumb: str) -> Path:
        """Move a certificate from trusted to rejected; its new path."""
        return self._move(thumb, "trusted/certs", "rejected/certs")

    def _move(self, thumb: str, src: str, dst: str) -> Path:
        thumb = thumb.strip().lower().replace(":", "")
        if len(thumb) < 4:
            raise PkiError(f"thumbprint {thumb!r} is too short (give at least 4 hex digits)")
        matches = [c for c in self.listing(src) if c.thumbprint.startswith(thumb)]
        if not matches:
            where = "already in " + dst if any(c.thumbprint.startswith(thumb) for c in self.listing(dst)) \
                else "not found"
            raise PkiError(f"no certificate with thumbprint {thumb} in pki/{src} ({where})")
        if len({c.thumbprint for c in matches}) > 1:
            raise PkiError(f"thumbprint {thumb} matches {len(matches)} certificates in pki/{src}; give more digits")
        self.dir(dst).mkdir(parents=True, exist_ok=True)
        target = self.dir(dst) / f"{matches[0].thumbprint}.der"
        _write(target, matches[0].cert.public_bytes(Encoding.DER), 0o644)
        for c in matches:
            c.path.unlink()
        return target

    def server_validator(self) -> Callable[[x509.Certificate, object], Awaitable[None]]:
        """An asyncua `certificate_validator` checking a server against the trust list (read at each check).

        Raises `UntrustedCertificateError` (after saving the certificate in rejected/) for an
        untrusted one, and asyncua's `ServiceError` for the other failures (expired, URI).
        """
        from asyncua import ua
        from asyncua.common.utils import ServiceError
        from asyncua.crypto.truststore import TrustStore
        from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions

        options = CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_SERVER
        # TrustStore logs every untrusted certificate with a traceback, on every retry; we
        # report it ourselves, once per outage, with what to do about it.
        logging.getLogger("asyncuagds.validate").setLevel(logging.CRITICAL)

        async def validate(cert: x509.Certificate, description: object) -> None:
            # A fresh store per check, so `twin certs trust` takes effect on the next attempt.
            store: TrustStore | None = None
            if await asyncio.to_thread(self.listing, "trusted/certs"):
                store = TrustStore([self.dir("trusted/certs")], [self.dir("trusted/crl"), self.dir("issuers/crl")])
                await store.load()
            try:
                # cryptography cannot build an empty store, and asyncua skips the trust check
                # without one, so an empty trust list is checked for the rest and then refused here.
                await CertificateValidator(options, store).validate(cert, description)
                if store is None:
                    raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)
            except ServiceError as exc:
                status = ua.StatusCode(exc.code)
                if exc.code == ua.StatusCodes.BadCertificateUntrusted:
                    await asyncio.to_thread(self.save_rejected, cert)
                    raise UntrustedCertificateError(thumbprint(cert), subject_of(cert), status.name) from None
                raise PkiError(f"server certificate {subject_of(cert)} (thumbprint {thumbprint(cert)}) "
                               f"refused: {status.name}: {status.doc}") from None

        return validate


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write a file atomically with the given mode (the key never exists with looser permissions)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
