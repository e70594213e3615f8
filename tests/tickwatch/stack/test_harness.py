"""The harness fixtures themselves: isolation per test, the marker guard, laziness."""

from __future__ import annotations

from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client as ClickHouseClient
from confluent_kafka.admin import AdminClient

from tickwatch.clients import clickhouse_client
from tickwatch.settings import ClickHouseSettings, KafkaSettings, Settings

CONFTEST = Path(__file__).resolve().parents[2] / "conftest.py"


@pytest.mark.clickhouse
def test_ch_settings_gives_migrated_private_databases(
    ch_settings: ClickHouseSettings, ch_client: ClickHouseClient
) -> None:
    assert ch_settings.market_database.startswith("market_")
    assert ch_settings.ops_database.startswith("ops_")
    tables = {row[0] for row in ch_client.query("SHOW TABLES").result_rows}
    assert tables, "the market database should hold the migrated tables"
    ledger = f"{ch_settings.ops_database}.schema_migrations"
    assert ch_client.query(f"SELECT count() FROM {ledger}").result_rows[0][0] > 0


@pytest.mark.clickhouse
def test_databases_are_dropped_after_the_test(clickhouse_url: str) -> None:
    client = clickhouse_client(ClickHouseSettings(), clickhouse_url)
    names = {row[0] for row in client.query("SHOW DATABASES").result_rows}
    client.close()
    leftovers = {n for n in names if n.startswith("market_") and n in _SEEN}
    assert not leftovers


_SEEN: set[str] = set()


@pytest.mark.kafka
def test_kafka_settings_gives_private_topics(kafka_settings: KafkaSettings) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_settings.bootstrap})
    topics = admin.list_topics(timeout=10).topics
    for name in (kafka_settings.topic_trades, kafka_settings.topic_dlq):
        assert name in topics
        assert len(topics[name].partitions) == kafka_settings.partitions
    assert kafka_settings.consumer_group.startswith("g_")


@pytest.mark.kafka
@pytest.mark.clickhouse
def test_settings_points_everything_at_the_harness(settings: Settings, tmp_path: Path) -> None:
    assert settings.kafka.bootstrap
    assert settings.clickhouse.url.startswith("http://127.0.0.1:")
    assert settings.stack.state_dir == tmp_path / "state"


def test_prometheus_binary_fails_with_install_hint(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(
        """
        def test_needs_it(prometheus_binary):
            assert prometheus_binary.name == "prometheus"
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    if result.ret == 0:
        return  # the binary is installed here
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*apt-get install prometheus*"])


def _inner_session(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(body)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)


@pytest.mark.clickhouse
def test_guard_fails_unmarked_clickhouse_use(
    pytester: pytest.Pytester, clickhouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKWATCH_TEST_CLICKHOUSE_URL", clickhouse_url)
    result = _inner_session(
        pytester,
        f"""
        import httpx
        import pytest

        def test_unmarked():
            httpx.post("{clickhouse_url}", content=b"SELECT 1")

        @pytest.mark.clickhouse
        def test_marked():
            assert httpx.post("{clickhouse_url}", content=b"SELECT 1").text.strip() == "1"
        """,
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*add @pytest.mark.clickhouse to the test*"])


@pytest.mark.kafka
def test_guard_fails_unmarked_kafka_client(
    pytester: pytest.Pytester, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKWATCH_TEST_KAFKA_BOOTSTRAP", kafka_bootstrap)
    result = _inner_session(
        pytester,
        f"""
        import confluent_kafka

        def test_unmarked():
            confluent_kafka.Producer({{"bootstrap.servers": "{kafka_bootstrap}"}})

        def test_other_brokers_are_fine():
            confluent_kafka.Producer({{"bootstrap.servers": "127.0.0.1:1"}})
        """,
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*add @pytest.mark.kafka to the test*"])


def test_unit_run_starts_no_service(pytester: pytest.Pytester) -> None:
    result = _inner_session(
        pytester,
        """
        from tickwatch.stack import process

        def test_pure():
            assert 1 + 1 == 2

        def test_no_child_processes():
            import psutil
            assert not psutil.Process().children(recursive=True)
        """,
    )
    result.assert_outcomes(passed=2)
