from __future__ import annotations

import re

import pytest

from cliproxy_cli.oauth.pkce import challenge_s256, make_pkce, make_state


def test_challenge_matches_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize(("nbytes", "length"), [(32, 43), (96, 128)])
def test_verifier_is_unpadded_base64url_of_the_right_length(nbytes: int, length: int) -> None:
    pkce = make_pkce(nbytes)
    assert len(pkce.verifier) == length
    assert re.fullmatch(r"[A-Za-z0-9_-]+", pkce.verifier)
    assert pkce.challenge == challenge_s256(pkce.verifier)
    assert pkce.method == "S256"


def test_verifiers_and_states_are_fresh_each_time() -> None:
    assert make_pkce().verifier != make_pkce().verifier
    assert make_state() != make_state()
    assert re.fullmatch(r"[0-9a-f]{32}", make_state())


def test_repr_masks_the_verifier() -> None:
    pkce = make_pkce()
    assert pkce.verifier not in repr(pkce)


def test_out_of_range_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        make_pkce(16)
