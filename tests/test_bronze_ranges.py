"""Planning micro-batches: the missing parts of a partition's offsets, packed into capped batches."""

from __future__ import annotations

from assets.bronze.ranges import legacy_cursor, missing, plan_batches, run_key


def test_backlog_is_split_into_capped_batches_in_offset_order():
    batches = plan_batches({0: [(0, 250)], 1: [(0, 100)]}, {}, max_records=100, max_runs=10)
    assert batches == [{0: (0, 100)}, {0: (100, 200)}, {0: (200, 250), 1: (0, 50)}, {1: (50, 100)}]
    assert all(sum(e - s for s, e in b.values()) <= 100 for b in batches)


def test_nothing_to_do_plans_nothing():
    assert plan_batches({}, {}, 100, 10) == []
    assert plan_batches({0: []}, {}, 100, 10) == []


def test_runs_per_tick_are_capped():
    assert len(plan_batches({0: [(0, 1000)]}, {}, max_records=100, max_runs=3)) == 3
    assert plan_batches({0: [(0, 1000)]}, {}, 100, 0) == []


def test_several_intervals_of_a_partition_go_to_separate_batches_in_order():
    batches = plan_batches({0: [(50, 60), (10, 20)]}, {}, max_records=100, max_runs=10)
    assert batches == [{0: (10, 20)}, {0: (50, 60)}]


def test_offsets_deleted_by_retention_cost_nothing_so_the_run_can_report_them():
    batches = plan_batches({0: [(3, 60)]}, {0: 50}, max_records=5, max_runs=10)
    # deleted offsets 3..49 cost nothing: the first batch still reads 5 real records
    assert batches == [{0: (3, 55)}, {0: (55, 60)}]


def test_missing_is_what_no_landed_or_busy_range_covers():
    assert missing(0, 100, []) == [(0, 100)]
    assert missing(0, 100, [(0, 40), (60, 100)]) == [(40, 60)]
    assert missing(10, 100, [(0, 20), (30, 50), (40, 70)]) == [(20, 30), (70, 100)]
    assert missing(5, 5, []) == []
    assert missing(0, 50, [(0, 80)]) == []


def test_run_keys_name_the_topic_incarnation_exact_ranges_and_attempt():
    assert run_key("orders", "abcdef123456", {1: (5, 9), 0: (0, 3)}) == "orders@abcdef12|p0:0-3,p1:5-9"
    assert run_key("orders", "abcdef123456", {0: (0, 3)}, attempt=3) == "orders@abcdef12|p0:0-3#attempt-3"


def test_a_cursor_from_before_the_ledger_gives_the_start_offsets():
    assert legacy_cursor('{"0": 40, "2": 7}') == {0: 40, 2: 7}
    assert legacy_cursor('{"retries": {}}') == {} and legacy_cursor(None) == {}
