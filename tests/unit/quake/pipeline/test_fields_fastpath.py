"""Match normalisation's per-shape prerequisite cache: the verdict follows the values that matter."""

from __future__ import annotations

import pytest

from openvolcano.caldera.quake.pipeline import PipelineError
from openvolcano.caldera.quake.pipeline.fields import normalize
from openvolcano.ofp import consts as c
from openvolcano.ofp.oxm import Match


def _refused(m: Match) -> None:
    with pytest.raises(PipelineError) as info:
        normalize(m)
    assert (info.value.type, info.value.code) == (c.OFPET_BAD_MATCH, c.OFPBMC_BAD_PREREQ)


@pytest.mark.parametrize("rounds", [1, 3])  # 3: every verdict also comes from the cache
def test_same_shape_different_prerequisite_values(rounds: int) -> None:
    for _ in range(rounds):
        normalize(Match.of(eth_type=0x800, ip_proto=6, tcp_dst=80))
        _refused(Match.of(eth_type=0x800, ip_proto=17, tcp_dst=81))
        _refused(Match.of(eth_type=0x806, ip_proto=6, tcp_dst=82))
        normalize(Match.of(vlan_vid=(0x1000, 0x1000), vlan_pcp=3))
        _refused(Match.of(vlan_vid=(0x0005, 0x0FFF), vlan_pcp=3))  # mask misses PRESENT
        # other values of non-prerequisite fields share the cached verdict
        assert normalize(Match.of(eth_type=0x800, ip_proto=6, tcp_dst=443)) == (
            (c.OFPXMT_OFB_ETH_TYPE, 0x800, 0xFFFF),
            (c.OFPXMT_OFB_IP_PROTO, 6, 0xFF),
            (c.OFPXMT_OFB_TCP_DST, 443, 0xFFFF),
        )
