"""Catalogue I (issue 8): clocks, failure detection, elections, locks and barriers.

Every spec exhausts its default configuration without a violation (the distinct-state counts and
depths are pinned as the explorer measured them), and every bug variant is caught: check()
reports the property the variant says it breaks, with a shortest counterexample of the pinned
length whose every step replays through the spec's own successor relation, and the command line
exits 1 naming that property. Each spec's own file (tests/specs/test_<name>.py) shows every
property non-vacuous with a hand-built violating state or step, and walks through scenarios.
"""

from __future__ import annotations

import pytest

from protospec.explorer import Spec
from protospec.specs.barrier import Barrier
from protospec.specs.bully_election import BullyElection
from protospec.specs.circuit_breaker import CircuitBreaker
from protospec.specs.distributed_lock import DistributedLock
from protospec.specs.failure_detector import FailureDetector
from protospec.specs.lamport_clock import LamportClock
from protospec.specs.mutual_exclusion import MutualExclusion
from protospec.specs.ring_election import RingElection
from protospec.specs.vector_clock import VectorClock
from tests.specs.catalogue_checks import (
    assert_cli_names_broken_property,
    assert_default_exhausts,
    assert_documented,
    assert_variant_caught,
)

# (spec, distinct states, depth) of the default configuration: measured with explorer.check.
EXHAUSTIVE = [
    (LamportClock, 7530, 6),
    (VectorClock, 7530, 6),
    (FailureDetector, 5711, 21),
    (BullyElection, 1984, 19),
    (RingElection, 8762, 35),
    (DistributedLock, 14887, 24),
    (MutualExclusion, 7541, 37),
    (Barrier, 609, 39),
    (CircuitBreaker, 56, 10),
]
SPECS = [spec for spec, _, _ in EXHAUSTIVE]

# (spec, variant, counterexample length) on the defaults: measured with explorer.check.
VARIANTS = [
    (LamportClock, "receive_forgets_max", 2),
    (LamportClock, "send_does_not_tick", 1),
    (VectorClock, "receive_forgets_increment", 2),
    (FailureDetector, "timeout_below_delay", 13),
    (BullyElection, "no_answer_wait", 3),
    (BullyElection, "recover_mid_election", 4),
    (RingElection, "forwards_smaller_ids", 5),
    (DistributedLock, "no_fencing", 10),
    (MutualExclusion, "inconsistent_tie_break", 7),
    (Barrier, "late_counter_reset", 13),
    (CircuitBreaker, "concurrent_probes", 9),
    (CircuitBreaker, "admits_below_threshold", 5),
]
VARIANT_IDS = [f"{s.name}-{v}" for s, v, _ in VARIANTS]


@pytest.mark.parametrize(("spec_cls", "distinct", "depth"), EXHAUSTIVE,
                         ids=[s.name for s in SPECS])
def test_the_default_configuration_exhausts_with_no_violation(spec_cls: type[Spec],
                                                              distinct: int, depth: int) -> None:
    assert_default_exhausts(spec_cls, distinct, depth)


@pytest.mark.parametrize(("spec_cls", "variant", "length"), VARIANTS, ids=VARIANT_IDS)
def test_each_variant_is_caught_with_a_shortest_replayable_trace(spec_cls: type[Spec],
                                                                 variant: str,
                                                                 length: int) -> None:
    assert_variant_caught(spec_cls, variant, length)


@pytest.mark.parametrize(("spec_cls", "variant", "length"), VARIANTS, ids=VARIANT_IDS)
def test_the_command_line_exits_1_naming_the_broken_property(spec_cls: type[Spec], variant: str,
                                                             length: int, capsys) -> None:
    assert_cli_names_broken_property(spec_cls, variant, length, capsys)


@pytest.mark.parametrize("spec_cls", SPECS, ids=[s.name for s in SPECS])
def test_every_spec_has_a_one_line_summary_a_source_a_variant_and_a_docs_page(
        spec_cls: type[Spec]) -> None:
    # These modules cite their references under "Source:" or "Sources:".
    assert_documented(spec_cls, source_labels=("Source:", "Sources:"))
