"""The cluster lines of `failover status`: leader, epoch, quorum and every view with its age."""

from __future__ import annotations

from failover.cluster.show import lines


def test_status_lines_name_the_leader_the_epoch_and_each_view() -> None:
    doc = {
        "replica": "r2",
        "leader": "r1",
        "epoch": 4,
        "leading": False,
        "quorum": 2,
        "replicas": 3,
        "live": 1,
        "quorum_lost": True,
        "disagreements": 1,
        "table_error": None,
        "views": {
            "r1": {"live": True, "age": 0.5, "seq": 10, "blind": False, "down": ["www/eu"]},
            "r3": {"live": False, "age": 42.0, "seq": 7, "blind": True, "down": []},
            "r9": {"live": False, "age": None, "unreadable": "schema 5, this reader reads 1 ± 1"},
        },
    }
    out = "\n".join(lines(doc))
    assert "leader r1  epoch 4  leading=False" in out
    assert "QUORUM LOST" in out
    assert "view r1" in out
    assert "live  age 0.5 s  seq 10  down: www/eu" in out
    assert "NOT LIVE  age 42.0 s  seq 7  blind  down: -" in out
    assert "unreadable: schema 5" in out
