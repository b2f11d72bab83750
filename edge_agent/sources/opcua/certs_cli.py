"""`twin certs`: the edge's OPC UA certificates in `$TWIN_STATE_DIR/pki`.

    twin certs show                  our application certificate (give it to the server's admin)
    twin certs list                  trusted and rejected server certificates, with thumbprints
    twin certs trust THUMBPRINT      trust a rejected server certificate (the next attempt uses it)
    twin certs reject THUMBPRINT     stop trusting a server certificate
    twin certs renew                 a new key and certificate (trust it again on each server)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import click
from cryptography import x509
from rich.console import Console

from edge_agent.sources.opcua.pki import Pki, PkiError, application_uri, load_cert, subject_of, thumbprint, uris_of
from twin.settings import Settings

console = Console()
T = TypeVar("T")


def _pki(agent: str | None = None) -> Pki:
    root = Settings().state_dir / "pki"
    uri = application_uri(agent)
    cert_path = Pki(root, application_uri=uri).cert_path
    if agent is None and cert_path.is_file():
        uris = uris_of(load_cert(cert_path))  # keep the URI the edge made its certificate with
        uri = uris[0] if uris else uri
    elif agent is None:
        uri = application_uri("edge-1")  # the edge agent's default id
    return Pki(root, application_uri=uri)


def _do(work: Callable[[], T]) -> T:
    try:
        return work()
    except (PkiError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


def _describe(cert: x509.Certificate, path: Path) -> None:
    console.print(f"subject:         {cert.subject.rfc4514_string()}")
    console.print(f"application uri: {', '.join(uris_of(cert)) or '(none)'}")
    console.print(f"valid:           {cert.not_valid_before_utc:%Y-%m-%d %H:%M} to "
                  f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    console.print(f"thumbprint:      {thumbprint(cert)} (SHA-1)")
    console.print(f"file:            {path}", soft_wrap=True)


@click.group()
def certs() -> None:
    """The edge's OPC UA certificates and trust list ($TWIN_STATE_DIR/pki)."""


@certs.command()
def show() -> None:
    """Our application instance certificate: subject, ApplicationUri, validity, thumbprint."""
    pki = _pki()
    cert = _do(pki.own)
    _describe(cert, pki.cert_path)


@certs.command("list")
def list_() -> None:
    """Trusted and rejected server certificates, with their SHA-1 thumbprints."""
    pki = _pki()
    # One line per certificate, thumbprint whole: it is what `twin certs trust` takes.
    rows = [(status, stored) for status, folder in (("trusted", "trusted/certs"), ("rejected", "rejected/certs"))
            for stored in _do(partial(pki.listing, folder))]
    if not rows:
        console.print(f"no server certificates in {pki.root} (trusted/certs, rejected/certs)", soft_wrap=True)
        return
    for status, stored in rows:
        console.print(f"{status:<9} {stored.thumbprint}  valid until {stored.cert.not_valid_after_utc:%Y-%m-%d}  "
                      f"{subject_of(stored.cert)}  {', '.join(uris_of(stored.cert))}", soft_wrap=True,
                      highlight=False)


@certs.command()
@click.argument("thumbprint_")
def trust(thumbprint_: str) -> None:
    """Trust a rejected server certificate (THUMBPRINT, or its first digits)."""
    path = _do(lambda: _pki().trust(thumbprint_))
    console.print(f"trusted {path.stem}; the next connection attempt uses it")


@certs.command()
@click.argument("thumbprint_")
def reject(thumbprint_: str) -> None:
    """Stop trusting a server certificate (moved to rejected/)."""
    path = _do(lambda: _pki().reject(thumbprint_))
    console.print(f"rejected {path.stem}; new sessions with that server are refused")


@certs.command()
@click.option("--agent", default=None, help="Agent id for the ApplicationUri (default: keep the current one).")
def renew(agent: str | None) -> None:
    """A new private key and certificate; trust the new certificate again on each server."""
    pki = _pki(agent)
    cert = _do(pki.renew)
    console.print("new certificate:")
    _describe(cert, pki.cert_path)
