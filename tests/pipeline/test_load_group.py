"""Group tokens, intent metadata and its size cap, and the recovery rule (pure logic)."""

from __future__ import annotations

import pytest

from pipeline.load.group import (
    GROUP_PREFIX,
    METADATA_MAX_BYTES,
    GroupError,
    MemberRange,
    MemberState,
    Resolution,
    group_metadata,
    group_token,
    member_state,
    parse_group,
    piece_token,
    resolve,
    split_members,
)

G = (MemberRange(0, 100, 199), MemberRange(2, 50, 80))


def test_token_and_metadata_are_functions_of_the_ranges_sorted_by_partition() -> None:
    reordered = (G[1], G[0])
    assert group_token("t.trades", reordered) == "t.trades:g:0:100-199,2:50-80"
    assert group_metadata(reordered) == "tickwatch:v2:g=0:100-199,2:50-80"
    assert parse_group(group_metadata(reordered)) == G


@pytest.mark.parametrize(
    "metadata",
    [None, "", "tickwatch:v1:end=5", "tickwatch:v2:g=", "tickwatch:v2:g=0:5-3",
     "tickwatch:v2:g=0:1-2,0:3-4", "tickwatch:v2:g=x:1-2"],
)  # fmt: skip
def test_parse_group_refuses_what_is_not_a_group(metadata: str | None) -> None:
    assert parse_group(metadata) is None


def test_piece_tokens_differ_for_equal_offsets_in_two_partitions() -> None:
    token = group_token("t", [MemberRange(0, 100, 199), MemberRange(1, 100, 199)])
    assert piece_token(token, (0, 100), (0, 199)) != piece_token(token, (1, 100), (1, 199))


def test_split_members_keeps_every_groups_metadata_under_the_kafka_limit() -> None:
    big = 10**15  # offsets of 16 digits: the longest ranges in practice
    members = [MemberRange(p, big, big + 999) for p in range(300)]
    groups = split_members(members)
    assert len(groups) > 1
    assert [m for g in groups for m in g] == sorted(members)  # every member once, in order
    for group in groups:
        assert len(group_metadata(group).encode()) < METADATA_MAX_BYTES
    assert split_members(members[:18]) == [members[:18]]  # the default 18 partitions fit


def test_split_members_refuses_a_limit_no_member_fits() -> None:
    assert len(GROUP_PREFIX) + len("0:1-2") == 20
    with pytest.raises(GroupError, match=r"offset\.metadata\.max\.bytes = 20"):
        split_members([MemberRange(0, 1, 2)], max_bytes=20)
    assert split_members([MemberRange(0, 1, 2)], max_bytes=21) == [[MemberRange(0, 1, 2)]]


META = group_metadata(G)


@pytest.mark.parametrize(
    ("committed", "is_intent", "state"),
    [
        ((100, META), True, MemberState.INTENT),
        ((100, None), False, MemberState.FRESH),
        (None, False, MemberState.FRESH),
        ((200, None), False, MemberState.PAST),
        ((200, "tickwatch:v2:g=0:200-300"), True, MemberState.PAST),
        ((150, None), False, MemberState.CONFLICT),
        ((90, "tickwatch:v1:end=99"), True, MemberState.CONFLICT),
        ((100, "tickwatch:v2:g=0:100-150"), True, MemberState.CONFLICT),
    ],
)
def test_member_states(
    committed: tuple[int, str | None] | None, is_intent: bool, state: MemberState
) -> None:
    assert member_state(G[0], G, committed, is_intent) is state


def test_a_partial_intent_is_rolled_forward_never_voided() -> None:
    # p0's intent landed, p2's failed (its record is the plain done commit at 50)
    assert resolve(G, {0: (100, META), 2: (50, None)}, {0: True}) is Resolution.REFORM
    # p2's owner already rolled it forward and moved on; p0 still shows the intent
    assert resolve(G, {0: (100, META), 2: (81, None)}, {0: True}) is Resolution.REFORM


def test_a_member_moved_from_outside_voids_the_group() -> None:
    assert resolve(G, {0: (100, META), 2: (60, None)}, {0: True}) is Resolution.VOID
    assert resolve(G, {0: (100, META), 2: (0, None)}, {0: True}) is Resolution.VOID
