"""Object keys, URLs in both addressing styles, and where credentials come from (no I/O)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from pydantic import SecretStr

from pipeline.archive.errors import ArchiveConfigError
from pipeline.archive.store import ObjectStore, object_store
from pipeline.archive.tables import table
from tickwatch.settings import ArchiveSettings

DAY = date(2026, 11, 2)


def test_hive_style_key_and_both_addressing_styles() -> None:
    path = ObjectStore("https://s3.eu-west-1.amazonaws.com", "tw-archive", "prod/market")
    key = path.key("trades", DAY)
    assert key == "prod/market/trades/date=2026-11-02/part-0.parquet"
    assert path.url(key) == f"https://s3.eu-west-1.amazonaws.com/tw-archive/{key}"
    virtual = ObjectStore("https://storage.googleapis.com", "tw-archive", "", "virtual")
    assert virtual.url("bars/x") == "https://tw-archive.storage.googleapis.com/bars/x"
    assert (
        virtual.table_glob("bars")
        == "https://tw-archive.storage.googleapis.com/bars/date=*/*.parquet"
    )


def test_credentials_are_parameters_never_sql() -> None:
    store = ObjectStore("http://127.0.0.1:9000", "b-b", access_key_id=SecretStr("AKIDEXAMPLE"),
                        secret_access_key=SecretStr("wJalrXUtnFEMI"))  # fmt: skip
    sql = store.s3_function("url", "structure")
    assert (
        sql
        == "s3({url:String}, {s3_key:String}, {s3_secret:String}, 'Parquet', {structure:String})"
    )
    assert "AKIDEXAMPLE" not in sql and "wJalrXUtnFEMI" not in repr(store)
    assert store.parameters() == {"s3_key": "AKIDEXAMPLE", "s3_secret": "wJalrXUtnFEMI"}
    unsigned = ObjectStore("http://127.0.0.1:9000", "b-b")
    assert unsigned.s3_function("url") == "s3({url:String}, 'Parquet')"
    assert unsigned.parameters() == {}


def test_secrets_file_fills_missing_credentials(tmp_path: Path) -> None:
    secrets = tmp_path / "s3.toml"
    secrets.write_text('access_key_id = "AK"\nsecret_access_key = "SK"\n', encoding="utf-8")
    store = object_store(ArchiveSettings(secrets_file=secrets), "http://127.0.0.1:9000/")
    assert store.endpoint == "http://127.0.0.1:9000"
    assert store.parameters() == {"s3_key": "AK", "s3_secret": "SK"}
    given = ArchiveSettings(secrets_file=secrets, access_key_id=SecretStr("ENV"))
    assert object_store(given, "http://h:1").parameters()["s3_key"] == "ENV"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("access_key_id = ", "not valid TOML"), ('region = "x"', "unknown ['region']")],
)
def test_bad_secrets_file_names_the_file_not_the_value(
    tmp_path: Path, text: str, expected: str
) -> None:
    secrets = tmp_path / "s3.toml"
    secrets.write_text(text, encoding="utf-8")
    with pytest.raises(ArchiveConfigError, match=re.escape(expected)) as caught:
        object_store(ArchiveSettings(secrets_file=secrets), "http://h:1")
    assert str(secrets) in str(caught.value)


def test_missing_endpoint_and_unknown_table_say_what_to_do() -> None:
    with pytest.raises(ArchiveConfigError, match="TICKWATCH_ARCHIVE_ENDPOINT"):
        object_store(ArchiveSettings(), "")
    with pytest.raises(ArchiveConfigError, match=r"known: .*'trades'"):
        table("ticks")
    assert table("bars").order_by == ("symbol", "interval_s", "event_time")
