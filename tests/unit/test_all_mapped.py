"""How the run summary reads the XComs of the per-chunk tasks (a mapped task group)."""

from identsync.dag.runtime import all_mapped


class LazyList:
    """Airflow's lazy XCom sequence: indexable and sized, and one probe past the end fails."""

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]

    def __iter__(self):
        raise AssertionError("iterating probes past the end; index by length instead")


def test_several_chunks_come_back_in_order():
    assert all_mapped(LazyList([{"chunk": 1}, {"chunk": 2}])) == [{"chunk": 1}, {"chunk": 2}]


def test_a_group_that_expanded_once_gives_its_value_not_a_list():
    # Seen under `airflow dags test`: one chunk -> the XCom is the dict itself.
    step = {"chunk": {"chunk_no": 0}, "counts": {"deals_created": 3}}
    assert all_mapped(step) == [step]


def test_nothing_upstream_is_an_empty_list():
    assert all_mapped(None) == [] and all_mapped(LazyList([])) == []
