"""SQLAlchemy 2 (over psycopg 3) against OmenDB: create_all (which reflects pg_catalog first),
ORM inserts, queries, updates and deletes, a rolled-back transaction, a constraint error,
Core statements reused, and schema reflection through the inspector. Exits non-zero on any
mismatch.

    python sqlalchemy_scenario.py PORT PASSWORD
"""
import decimal
import sys

from sqlalchemy import (
    Boolean,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    create_engine,
    delete,
    func,
    inspect,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

port, password = sys.argv[1], sys.argv[2]
engine = create_engine(
    f"postgresql+psycopg://omendb:{password}@127.0.0.1:{port}/omendb",
    connect_args={"prepare_threshold": 1},
)


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("sku"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), index=True)
    sku: Mapped[str] = mapped_column(String(12))
    price: Mapped[decimal.Decimal] = mapped_column(Numeric(8, 2))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    body: Mapped[str | None]


Base.metadata.create_all(engine)
Base.metadata.create_all(engine)  # a second time: every table is found and left alone

with Session(engine) as session:
    session.add_all(
        [Item(id=i, name=f"n{i}", sku=f"s{i}", price=decimal.Decimal(i) / 4) for i in range(1, 6)]
    )
    session.commit()
    found = session.scalars(select(Item).where(Item.price > 0.5).order_by(Item.id)).all()
    assert [i.id for i in found] == [3, 4, 5], found
    assert found[0].price == decimal.Decimal("0.75") and found[0].active is True

    session.execute(update(Item).where(Item.id == 2).values(active=False))
    session.execute(delete(Item).where(Item.id == 5))
    session.commit()
    assert session.scalar(select(func.count()).select_from(Item).where(Item.active)) == 3

    # A rolled-back unit of work leaves nothing behind.
    session.add(Item(id=9, name="gone", sku="s9", price=1))
    session.flush()
    session.rollback()
    assert session.get(Item, 9) is None

    # A unique violation surfaces as IntegrityError with PostgreSQL's code.
    session.add(Item(id=10, name="dup", sku="s1", price=1))
    try:
        session.commit()
        raise AssertionError("a duplicate sku was accepted")
    except IntegrityError as e:
        assert e.orig.sqlstate == "23505", e.orig.sqlstate
        session.rollback()

with engine.connect() as conn:
    for i in range(20):
        assert conn.execute(select(Item.name).where(Item.id == (i % 4) + 1)).scalar() == f"n{i % 4 + 1}"
    conn.execute(insert(Note), [{"id": 1, "body": "a"}, {"id": 2, "body": None}])
    conn.commit()
    assert conn.execute(select(func.count()).select_from(Note)).scalar() == 2

inspector = inspect(engine)
assert sorted(inspector.get_table_names()) == ["items", "notes"], inspector.get_table_names()
columns = {c["name"]: c for c in inspector.get_columns("items")}
assert list(columns) == ["id", "name", "sku", "price", "active"], list(columns)
assert str(columns["name"]["type"]) == "VARCHAR(50)", columns["name"]["type"]
assert str(columns["price"]["type"]) == "NUMERIC(8, 2)", columns["price"]["type"]
assert columns["id"]["nullable"] is False and columns["price"]["nullable"] is False
assert inspector.get_pk_constraint("items")["constrained_columns"] == ["id"]
indexes = inspector.get_indexes("items")
# As from PostgreSQL: the unique constraint's index too, marked as duplicating it.
assert [(i["name"], i["column_names"], i["unique"]) for i in indexes] == [
    ("items_sku_key", ["sku"], True),
    ("ix_items_name", ["name"], False),
], indexes
assert indexes[0]["duplicates_constraint"] == "items_sku_key"
uniques = inspector.get_unique_constraints("items")
assert [(u["name"], u["column_names"]) for u in uniques] == [("items_sku_key", ["sku"])], uniques
assert inspector.has_table("notes") and not inspector.has_table("nope")
print("done")
