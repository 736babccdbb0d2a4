"""ir/bounded: the caches forget their oldest entry, never the one being written."""
from lazytensor.ir.bounded import remember


def test_a_full_table_forgets_its_oldest_entry():
    table: dict = {}
    for k in range(4):
        assert remember(table, k, k * 10, limit=3) == k * 10
    assert table == {1: 10, 2: 20, 3: 30}


def test_writing_a_known_key_forgets_nothing():
    table = {1: "a", 2: "b"}
    remember(table, 1, "c", limit=2)
    assert table == {1: "c", 2: "b"}
