"""`fraudops features backfill` and `status`: the store rebuilt from the lake, on both stores."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fraudops import generate, lake
from fraudops.cardhistory import VERSION, enrich
from fraudops.cardhistory.online import record_and_compute
from fraudops.cardhistory.stores import open_store
from fraudops.cli import app
from fraudops.cli import common as cli_common
from fraudops.config import Settings
from fraudops.datagen import generate_day
from tests.support.services import redis_server
from tests.support.settings import make_settings

pytestmark = pytest.mark.integration

DAYS = 40  # more than the 31 days a backfill loads


@pytest.fixture(scope="module")
def lake_home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = make_settings(tmp_path_factory.mktemp("backfill") / "home", rows_per_day=500)
    generate.generate(settings, days=DAYS)
    return settings


@pytest.fixture(params=["sqlite", "redis"])
def settings(
    request: pytest.FixtureRequest, lake_home: Settings, tmp_path: Path
) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield lake_home.model_copy(update={"feature_store": str(tmp_path / "store.db")})
        return
    with redis_server(tmp_path / "redis") as url:
        yield lake_home.model_copy(update={"feature_store": url})


def _cli(settings: Settings, *args: str) -> dict[str, object]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli_common, "get_settings", lambda: settings)
        result = CliRunner().invoke(app, [*args, "--json"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_backfill_loads_the_last_31_days_once_and_reports_it(settings: Settings) -> None:
    table = lake.transactions_table(lake.open_catalog(settings))
    days = lake.snapshot_days(table)[-31:]
    wanted = lake.read_transactions(table, days=days)

    assert _cli(settings, "features", "status")["holds"] is None  # never filled

    first = _cli(settings, "features", "backfill")

    assert first["version"] == VERSION
    assert first["days"] == [days[0].isoformat(), days[-1].isoformat()]
    assert first["transactions"] == first["loaded"] == wanted.num_rows
    status = _cli(settings, "features", "status")
    assert status["holds"] == VERSION
    assert status["events"] == wanted.num_rows
    assert status["cards"] == len(set(wanted["card_id"].to_pylist()))

    again = _cli(settings, "features", "backfill", "--keep")  # nothing is stored twice
    assert (again["loaded"], again["events"]) == (0, wanted.num_rows)
    rebuilt = _cli(settings, "features", "backfill", "--days", "2")  # emptied first
    assert rebuilt["events"] == rebuilt["loaded"] < wanted.num_rows


def test_after_a_backfill_the_next_day_gets_the_lake_s_features(settings: Settings) -> None:
    _cli(settings, "features", "backfill")
    table = lake.transactions_table(lake.open_catalog(settings))
    history = lake.read_transactions(table, days=lake.snapshot_days(table)[-31:])
    last = max(lake.snapshot_days(table))
    nxt = generate_day(last + dt.timedelta(days=1), rows=300, seed=settings.seed)
    nxt = nxt.sort_by([("event_ts", "ascending"), ("transaction_id", "ascending")])

    store = open_store(settings)
    try:
        online = record_and_compute(store, nxt.to_pylist())
    finally:
        store.close()
    offline = enrich(nxt, history)

    for name, values in online.items():
        assert values.tolist() == pytest.approx(offline[name].to_numpy().tolist(), nan_ok=True)
