"""The deduplication-window rule: sizing (unit) and the start-up check on the real ClickHouse."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.client import Client

from tickwatch import access, dedup_window
from tickwatch.settings import ClickHouseSettings, Settings, load_settings


def _settings(partitions: int, window: int = 0, **load: object) -> Settings:
    return load_settings(
        kafka={"partitions": partitions}, clickhouse={"dedup_window": window}, load=load
    )


def test_the_defaults_are_sized_above_the_former_fixed_window() -> None:
    need = dedup_window.need(_settings(6))
    # the cadence at 60 ms (table scope): 6 partitions x 1000/60 time cuts/s + 200k/50k size
    # cuts/s, x2 parts, over 2 x 45 s
    assert need.blocks == 18_720
    assert dedup_window.target(_settings(6)) == 18_720
    # without the cadence, the early cut at 120 ms fits the former fixed window
    assert dedup_window.need(_settings(6, batch_cadence_ms=0)).blocks == 9720
    assert dedup_window.target(_settings(6, batch_cadence_ms=0)) == dedup_window.FLOOR
    # with the early cut off: 6 partitions x 1000/1000 (batch_max_ms) time cuts/s
    assert dedup_window.need(_settings(6, batch_min_ms=0)).blocks == 1800


@pytest.mark.parametrize("cluster", ["", "tickwatch"])
def test_every_market_table_a_load_insert_writes_has_its_window_sized(cluster: str) -> None:
    # the load role's INSERT grants name every table a batch writes a block into, the views'
    # targets included (SQL SECURITY INVOKER): each must remember the insert tokens
    settings = load_settings(clickhouse={"cluster": cluster})
    market = settings.clickhouse.market_database
    grants = access.privileges("load", settings.clickhouse)
    written = {g.removeprefix("INSERT ON ") for g in grants if g.startswith(f"INSERT ON {market}.")}
    assert {f"{market}.symbol_activity_daily", f"{market}.trade_corrections"} <= {
        w.removesuffix("_local") for w in written
    }
    assert written <= set(dedup_window.tables(settings))


def test_a_few_hundred_partitions_outrun_ten_thousand_and_are_sized() -> None:
    settings = _settings(300)
    assert dedup_window.need(settings).blocks == 900_720  # (300 x 1000/60 + 4) x 2 x 90
    assert dedup_window.target(settings) == 900_720


def test_shards_divide_the_partitions_per_table() -> None:
    assert dedup_window.need(_settings(300), shards=2).partitions_per_table == 150
    assert dedup_window.need(_settings(7), shards=2).partitions_per_table == 4


def test_a_configured_window_below_the_need_names_the_settings() -> None:
    with pytest.raises(dedup_window.DedupWindowError) as caught:
        dedup_window.target(_settings(300, window=10_000))
    message = str(caught.value)
    for key in (
        "clickhouse.dedup_window=10000",
        "load.batch_max_ms",
        "load.peak_rows_per_s",
        "load.session_timeout_ms",
        "kafka.partitions",
    ):
        assert key in message


def test_longer_batches_shrink_the_need() -> None:
    assert (
        dedup_window.target(_settings(300, window=30_000, batch_max_ms=5000, batch_min_ms=0))
        == 30_000
    )


def _with_ch(settings: Settings, ch: ClickHouseSettings) -> Settings:
    return settings.model_copy(update={"clickhouse": ch})


@pytest.mark.clickhouse
def test_start_up_refuses_a_small_window_until_migrate_sizes_it(
    ch_settings: ClickHouseSettings, ch_client: Client
) -> None:
    settings = _with_ch(_settings(300), ch_settings)
    with pytest.raises(dedup_window.DedupWindowError) as caught:
        dedup_window.verify(ch_client, settings)
    assert f"{ch_settings.market_database}.trades keeps the last 10000" in str(caught.value)
    assert "non_replicated_deduplication_window" in str(caught.value)
    changed = dedup_window.ensure(ch_client, settings)
    assert len(changed) == len(dedup_window.tables(settings))
    dedup_window.verify(ch_client, settings)
    table = f"{ch_settings.market_database}.trades"
    assert dedup_window.current(ch_client, table, "non_replicated_deduplication_window") == 900_720
    assert dedup_window.ensure(ch_client, settings) == []  # idempotent


@pytest.mark.clickhouse
def test_migrate_refuses_an_explicit_window_below_the_need(
    ch_settings: ClickHouseSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    from tickwatch.migrate_cli import run_migrate

    settings = _with_ch(_settings(300), ch_settings.model_copy(update={"dedup_window": 20_000}))
    assert run_migrate(settings) == 1
    out = capsys.readouterr().out
    assert "clickhouse.dedup_window=20000" in out and "kafka.partitions" in out
