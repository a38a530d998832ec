"""States and kinds: each coded column takes exactly its enum's values, refused by the database
itself (a raw insert, not the models) on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, Enum, Table, select
from sqlalchemy.exc import IntegrityError

from care_exchange_server.services.events import HEARTBEAT
from care_exchange_server.storage import enums
from care_exchange_server.storage.db import make_engine, session_factory
from care_exchange_server.storage.enums import AgreementStatus, OrganisationKind
from care_exchange_server.storage.migrate import upgrade
from care_exchange_server.storage.models import Agreement, Base, Organisation
from care_exchange_standard.files import SPEC_FILE
from tests.api.storage.conftest import empty_database
from tests.api.storage.rows import ROWS, insert, reflected, row_of, rows_before

CODED = sorted(
    (table.name, column.name, column.type.enum_class)
    for table in Base.metadata.sorted_tables
    for column in table.columns
    if isinstance(column.type, Enum) and column.type.enum_class is not None
)
IDS = [f"{table}.{column}" for table, column, _ in CODED]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, dict[str, Table]]]:
    """One migrated database per backend, and its tables; each test's rows are rolled back."""
    for url in empty_database(request, tmp_path_factory.mktemp("coded")):
        upgrade(url)
        engine = make_engine(url)
        with engine.connect() as connection:
            tables = reflected(connection)
        yield engine, tables
        engine.dispose()


def _insert_with(
    database: tuple[Engine, dict[str, Table]], table: str, column: str, value: str
) -> None:
    """The table's row, holding `value` in `column`, after the rows it refers to; rolled back."""
    engine, tables = database
    with engine.connect() as connection:
        try:
            connection.begin()
            insert(connection, rows_before(table), tables)
            connection.execute(tables[table].insert().values(**{**row_of(table), column: value}))
        finally:
            connection.rollback()


def test_every_coded_column_is_covered() -> None:
    """The rows below exercise every enum-typed column the models have, each under a CHECK."""
    assert {table for table, _, _ in CODED} <= {table for table, _ in ROWS}
    for table, column, _ in CODED:
        names = {constraint.name for constraint in Base.metadata.tables[table].constraints}
        assert f"ck_{table}_{column}" in names


@pytest.mark.parametrize(("table", "column", "enum"), CODED, ids=IDS)
def test_the_database_takes_every_value_of_the_enum(
    database: tuple[Engine, dict[str, Table]], table: str, column: str, enum: type[StrEnum]
) -> None:
    for member in enum:
        _insert_with(database, table, column, member.value)


@pytest.mark.parametrize(("table", "column", "enum"), CODED, ids=IDS)
def test_the_database_refuses_any_other_value(
    database: tuple[Engine, dict[str, Table]], table: str, column: str, enum: type[StrEnum]
) -> None:
    for value in ("bogus", next(iter(enum)).value.upper()):
        with pytest.raises(IntegrityError, match=f"ck_{table}_{column}"):
            _insert_with(database, table, column, value)


def test_the_models_read_values_back_as_members(
    database: tuple[Engine, dict[str, Table]],
) -> None:
    engine, tables = database
    sessions = session_factory(engine)
    with engine.connect() as connection:
        connection.begin()
        try:
            insert(connection, rows_before("records"), tables)
            with sessions(bind=connection) as session:
                agreement = session.get_one(Agreement, "agr-1")
                kinds = set(session.scalars(select(Organisation.kind)))
            assert agreement.status is AgreementStatus.ACTIVE
            assert kinds == {OrganisationKind.PROVIDER, OrganisationKind.COMMISSIONER}
        finally:
            connection.rollback()


Schemas = dict[str, Any]
# Where the spec lists each enum's values on the wire.
ON_THE_WIRE: dict[type[StrEnum], Callable[[Schemas], list[str]]] = {
    enums.OrganisationKind: lambda s: s["OrganisationKind"]["enum"],
    enums.AuthMethod: lambda s: s["AuthMethod"]["enum"],
    enums.AgreementStatus: lambda s: s["AgreementStatus"]["enum"],
    enums.RecordState: lambda s: s["RecordEnvelope"]["properties"]["state"]["enum"],
    enums.FeedState: lambda s: s["FeedItem"]["properties"]["state"]["enum"],
    enums.FeedbackKind: lambda s: s["FeedbackKind"]["enum"],
    enums.ReceiptChannel: lambda s: s["AccessReceipt"]["properties"]["channel"]["enum"],
    enums.SubscriptionChannel: lambda s: [
        choice["properties"]["type"]["const"] for choice in s["SubscriptionChannel"]["oneOf"]
    ],
    enums.SubscriptionContent: lambda s: s["SubscriptionContent"]["enum"],
    enums.SubscriptionStatus: lambda s: s["SubscriptionStatusCode"]["enum"],
    # Heartbeats are sent but never stored.
    enums.EventType: lambda s: [
        kind for kind in s["Event"]["properties"]["type"]["enum"] if kind != HEARTBEAT
    ],
}


def test_every_enum_is_a_coded_column_named_on_the_wire() -> None:
    defined = {
        value
        for value in vars(enums).values()
        if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum
    }
    assert defined == set(ON_THE_WIRE) == {enum for _, _, enum in CODED}


@pytest.mark.parametrize("enum", list(ON_THE_WIRE), ids=lambda enum: enum.__name__)
def test_the_database_holds_exactly_the_values_the_spec_names(enum: type[StrEnum]) -> None:
    """So storing the enum changes nothing on the wire, and nothing the wire may carry is
    refused by the database."""
    schemas = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))["components"]["schemas"]
    assert [member.value for member in enum] == ON_THE_WIRE[enum](schemas)
