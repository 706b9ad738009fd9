"""Secret masking: every form a secret can take in output is hidden, also across chunk boundaries."""

from __future__ import annotations

import base64
import random
from urllib.parse import quote, quote_plus

import pytest

from shera.runtime.masking import MASK, SecretMasker

SECRET = "s3cr3t-Pa$$/word+x"


def masked_stream(masker: SecretMasker, chunks: list[bytes]) -> bytes:
    stream = masker.stream()
    return b"".join([*(stream.feed(chunk) for chunk in chunks), stream.flush()])


def test_exact_value_is_masked() -> None:
    out = SecretMasker([SECRET]).mask(f"token={SECRET} end".encode())
    assert out == b"token=" + MASK + b" end"


@pytest.mark.parametrize("prefix", [b"", b"a", b"ab", b"abc", b"Authorization: Basic "])
@pytest.mark.parametrize("altchars", [None, b"-_"])
def test_base64_inside_longer_text_is_masked_at_any_alignment(prefix: bytes, altchars: bytes | None) -> None:
    # Given the secret encoded together with text before and after it (as `user:password` headers are)
    encoded = base64.b64encode(prefix + SECRET.encode() + b"!tail", altchars=altchars)
    out = SecretMasker([SECRET]).mask(b"header " + encoded)
    # Then the secret's characters are masked: what is left around the mask is too short to carry it
    assert out.count(MASK) == 1
    before, after = out.removeprefix(b"header ").split(MASK)
    assert len(before) <= len(prefix) * 4 // 3 + 1
    assert len(after) <= 12  # "!tail" is 5 bytes: at most 8 base64 characters plus padding and overlap
    assert len(before) + len(after) < len(encoded) - len(SECRET)


def test_plain_base64_of_the_secret_alone_is_masked() -> None:
    encoded = base64.b64encode(SECRET.encode())
    out = SecretMasker([SECRET]).mask(b"x " + encoded + b" y")
    assert out.startswith(b"x ")
    assert encoded.rstrip(b"=") not in out
    assert MASK in out


@pytest.mark.parametrize("encode", [lambda s: quote(s, safe=""), quote, quote_plus])
def test_url_encoded_forms_are_masked(encode: object) -> None:
    assert callable(encode)
    form = encode(SECRET)
    assert form != SECRET  # the secret has characters that URL-encoding changes
    out = SecretMasker([SECRET]).mask(f"https://x/?p={form}&q=1".encode())
    assert out == b"https://x/?p=" + MASK + b"&q=1"


def test_lowercase_hex_escapes_are_masked() -> None:
    form = quote(SECRET, safe="").replace("%2F", "%2f").replace("%24", "%24").replace("%2B", "%2b")
    assert SecretMasker([SECRET]).mask(form.encode()) == MASK


def test_secret_split_across_chunks_is_masked() -> None:
    data = f"before {SECRET} middle {SECRET} after".encode()
    masker = SecretMasker([SECRET])
    for cut in range(1, len(data)):
        assert (
            masked_stream(masker, [data[:cut], data[cut:]])
            == b"before " + MASK + b" middle " + MASK + b" after"
        )


def test_byte_by_byte_stream_masks_every_form() -> None:
    encoded = base64.b64encode(b"u:" + SECRET.encode())
    data = b"a " + SECRET.encode() + b" b " + encoded + b" c " + quote_plus(SECRET).encode() + b"\n"
    out = masked_stream(SecretMasker([SECRET]), [bytes([b]) for b in data])
    assert SECRET.encode() not in out
    assert quote_plus(SECRET).encode() not in out
    assert out.count(MASK) == 3
    assert out.startswith(b"a " + MASK + b" b ")
    assert out.endswith(b" c " + MASK + b"\n")


def test_random_chunking_gives_the_same_result_as_masking_at_once() -> None:
    rng = random.Random(7)
    masker = SecretMasker([SECRET, "another-secret-value"])
    data = (f"x{SECRET}y another-secret-value z" * 20).encode()
    expected = masker.mask(data)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(data)), 15))
        chunks = [data[i:j] for i, j in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert masked_stream(masker, chunks) == expected


def test_stream_holds_back_less_than_the_longest_pattern() -> None:
    masker = SecretMasker([SECRET])
    stream = masker.stream()
    released = stream.feed(b"x" * 1000)
    # Only a possible secret prefix is held back, the rest is released at once.
    assert len(released) >= 1000 - (masker.longest - 1)
    assert released + stream.flush() == b"x" * 1000


def test_empty_and_short_secrets_are_ignored() -> None:
    masker = SecretMasker(["", "abc"])
    assert masker.mask(b"abc and more") == b"abc and more"
    assert masker.stream().feed(b"abc") == b"abc"


def test_longest_secret_wins_when_secrets_overlap() -> None:
    masker = SecretMasker(["password", "password-long"])
    assert masker.mask(b"[password-long]") == b"[" + MASK + b"]"


def test_mask_text_for_messages() -> None:
    assert SecretMasker([SECRET]).mask_text(f"bad token {SECRET}") == "bad token ********"
