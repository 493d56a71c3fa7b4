"""resources/redact.py masks passwords in URLs, key/value options and known secret values; nothing else changes."""

from __future__ import annotations

import duckdb
import pytest

from resources.duckdb import EXTENSION_DIRECTORY
from resources.redact import MASK, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://de_user:de_pass@127.0.0.1:5432/de_db", f"postgresql://de_user:{MASK}@127.0.0.1:5432/de_db"),
        (
            'Unable to connect to Postgres at "postgresql://u:p%40ss@h:1/db": refused',
            f'Unable to connect to Postgres at "postgresql://u:{MASK}@h:1/db": refused',
        ),
        ("redis://:only-a-password@cache:6379/0", f"redis://:{MASK}@cache:6379/0"),
        (
            "jdbc:postgresql://u:pw@h/db and s3://key:secret@bucket/x",
            f"jdbc:postgresql://u:{MASK}@h/db and s3://key:{MASK}@bucket/x",
        ),
        (
            "'url' = 'jdbc:postgresql://h:5432/db', 'username' = 'de_user', 'password' = 'de_pass'",
            f"'url' = 'jdbc:postgresql://h:5432/db', 'username' = 'de_user', 'password' = '{MASK}'",
        ),
        ("host=h port=5432 user=u password=pw dbname=d", f"host=h port=5432 user=u password={MASK} dbname=d"),
        (
            '{"username": "admin", "password": "hunter 2", "sqlalchemy_uri": "postgresql://a:b@c/d"}',
            f'{{"username": "admin", "password": "{MASK}", "sqlalchemy_uri": "postgresql://a:{MASK}@c/d"}}',
        ),
        ("s3.secret-key: minioadmin\ns3.access-key: minioadmin", f"s3.secret-key: {MASK}\ns3.access-key: minioadmin"),
        ("SUPERSET_SECRET_KEY=abc123 DAGSTER_HOME=/tmp", f"SUPERSET_SECRET_KEY={MASK} DAGSTER_HOME=/tmp"),
        ("?access_token=abc&x=1", f"?access_token={MASK}&x=1"),
    ],
)
def test_masks_urls_and_named_values(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "http://127.0.0.1:8088/superset/dashboard/orders-realtime/",
        "http://host:8080/path@with-at and mailto:someone@example.com",
        'password authentication failed for user "de_user" (SUPERSET_ADMIN_USER / SUPERSET_ADMIN_PASSWORD)',
        "the secret key is kept (mode 0600) under data/superset",
        "",
    ],
)
def test_leaves_text_without_secrets_alone(text):
    assert redact(text) == text


def test_masks_known_secrets_raw_and_percent_encoded_and_from_a_url():
    url = "postgresql://de_user:p%40ss%2Fw0rd@127.0.0.1:5432/de_db"
    text = "JDBC sink: 'pw' -> p@ss/w0rd, in a URI p%40ss%2Fw0rd; also the key 7fQ9-zz"
    redacted = redact(text, secrets=[url, "7fQ9-zz", "", None])
    assert redacted == f"JDBC sink: 'pw' -> {MASK}, in a URI {MASK}; also the key {MASK}"


def test_a_short_secret_is_masked_as_a_token_not_inside_words():
    assert (
        redact("superset at http://u:p@h refused 'p'", secrets=["p"])
        == f"superset at http://u:{MASK}@h refused '{MASK}'"
    )


def test_a_secret_inside_a_longer_one_does_not_leave_a_tail():
    assert redact("abc-abcdef", secrets=["abc", "abc-abcdef"]) == MASK


def test_a_secret_url_without_a_password_is_masked_whole():
    assert redact("x postgresql://h:notaport y", secrets=["postgresql://h:notaport"]) == f"x {MASK} y"


def test_duckdb_attach_error_carries_the_password_and_redact_removes_it():
    """The real error DuckDB raises when ATTACH cannot reach Postgres (port 1: nothing listens)."""
    url = "postgresql://de_user:Xy9%40pass@127.0.0.1:1/de_db"
    con = duckdb.connect(
        config={
            "extension_directory": str(EXTENSION_DIRECTORY),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": True,
        }
    )
    with pytest.raises(duckdb.Error) as error:
        con.execute(f"ATTACH '{url}' AS pg (TYPE postgres)")
    assert "Xy9%40pass" in str(error.value)  # the leak is real
    assert "Xy9" not in redact(str(error.value), secrets=[url])
    assert "127.0.0.1" in redact(str(error.value))  # what helps to debug stays
