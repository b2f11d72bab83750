"""API tokens configured as their SHA-256: the service's environment holds no usable secret."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from api.auth import Role, TokenAuth, parse_tokens
from api.errors import ApiError

TOKEN = "a-long-random-maintainer-token"


def test_a_hashed_token_authenticates_like_the_token_itself() -> None:
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    tokens = parse_tokens(f"alice:maintainer:sha256:{digest},ops:admin:plain-admin-token")
    assert tokens[0].hashed and not tokens[1].hashed
    auth = TokenAuth(tokens)
    who = auth.identify(TOKEN)
    assert who is not None and (who.name, who.role) == ("alice", Role.MAINTAINER)
    assert auth.identify(f"sha256:{digest}") is None  # the hash itself is no token
    assert auth.identify("plain-admin-token") is not None and auth.identify("wrong-token") is None


@pytest.mark.parametrize("bad", ["sha256:abc", "sha256:" + "G" * 64, "sha256:" + "A" * 64])
def test_a_malformed_hash_is_a_configuration_error(bad: str) -> None:
    with pytest.raises(ApiError, match="64 lower-case hex digits"):
        parse_tokens(f"alice:maintainer:{bad}")


def test_twin_alerts_token_hash_prints_the_configurable_form() -> None:
    twin = str(Path(sys.executable).with_name("twin"))
    done = subprocess.run([twin, "alerts", "token-hash"], input=TOKEN + "\n", capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest()
    done = subprocess.run([twin, "alerts", "token-hash"], input="short\n", capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "Traceback" not in done.stderr
