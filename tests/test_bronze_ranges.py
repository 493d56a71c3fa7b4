"""Planning micro-batches from the sensor cursor and the partitions' watermarks."""
from __future__ import annotations

from assets.bronze.ranges import Watermarks, decode_cursor, encode_cursor, plan_batches, run_key


def test_backlog_is_split_into_capped_batches_in_offset_order():
    marks = {0: Watermarks(0, 250), 1: Watermarks(0, 100)}
    batches, cursor = plan_batches({}, marks, max_records=100, max_runs=10)
    assert batches == [{0: (0, 100)}, {0: (100, 200)}, {0: (200, 250), 1: (0, 50)}, {1: (50, 100)}]
    assert cursor == {0: 250, 1: 100}
    assert all(sum(e - s for s, e in b.values()) <= 100 for b in batches)


def test_nothing_new_plans_nothing_and_keeps_the_cursor():
    marks = {0: Watermarks(0, 40), 1: Watermarks(5, 5)}
    assert plan_batches({0: 40, 1: 5}, marks, 100, 10) == ([], {0: 40, 1: 5})


def test_runs_per_tick_are_capped_and_the_rest_waits_for_the_next_tick():
    marks = {0: Watermarks(0, 1000)}
    batches, cursor = plan_batches({}, marks, max_records=100, max_runs=3)
    assert len(batches) == 3 and cursor == {0: 300}
    more, cursor = plan_batches(cursor, marks, 100, 3)
    assert more[0] == {0: (300, 400)} and cursor == {0: 600}


def test_new_partition_starts_at_its_low_watermark():
    batches, _ = plan_batches({0: 10}, {0: Watermarks(0, 10), 1: Watermarks(7, 9)}, 100, 10)
    assert batches == [{1: (7, 9)}]


def test_a_cursor_below_retention_is_kept_so_the_run_can_report_the_loss():
    batches, cursor = plan_batches({0: 3}, {0: Watermarks(50, 60)}, max_records=5, max_runs=10)
    # deleted offsets 3..49 cost nothing: the first batch still reads 5 real records
    assert batches[0] == {0: (3, 55)}
    assert batches[1] == {0: (55, 60)}
    assert cursor == {0: 60}


def test_run_keys_name_exact_ranges_and_cursors_round_trip():
    assert run_key("orders", {1: (5, 9), 0: (0, 3)}) == "orders|p0:0-3,p1:5-9"
    assert decode_cursor(encode_cursor({2: 7, 0: 1})) == {0: 1, 2: 7}
    assert decode_cursor(None) == {}
