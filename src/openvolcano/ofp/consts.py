"""Every constant of OpenFlow 1.3.5's ``openflow.h``, named exactly as in the spec.

Role: the vocabulary shared by the whole codec and by both planes of the
paper's architecture (quake, the Caldera switch, and magma, the StratoV
controller, speak OpenFlow 1.3 through :mod:`openvolcano.ofp`). Names are the C
enum/define names, so code reads like the spec and can be grepped against it.

Design:

* plain module-level ``Final`` ints, grouped by the C enum they come from, in
  the spec's order; no Python ``enum`` (values go straight onto the wire, and
  several enums share values, e.g. ``OFPMPF_REQ_MORE == OFPMPF_REPLY_MORE``);
* struct sizes as ``OFP_<STRUCT>_LEN`` (``sizeof(struct ofp_<struct>)``); the
  codec modules assert their ``struct.Struct`` sizes against them. A ``_SIZE``
  alias exists for each, for readers used to os-ken's spelling;
* :func:`name_of`, :func:`flag_names` and :func:`error_name` turn numbers back
  into names for logs, traces and error messages (unknown values print in hex).

Invariant: this module imports nothing from the codec (everything else imports
it), does no I/O, and its name tables are computed once at import.
"""

from __future__ import annotations

from typing import Final

# enum ofp_error_type and every error-code enum live in consts_errors (module size);
# they are part of this module's namespace.
from openvolcano.ofp.consts_errors import *  # noqa: F403

# --- openflow-common / protocol-level values ---------------------------------
OFP_VERSION: Final = 0x04
OFP_MAX_TABLE_NAME_LEN: Final = 32
OFP_MAX_PORT_NAME_LEN: Final = 16
OFP_TCP_PORT: Final = 6653
OFP_SSL_PORT: Final = 6653
OFP_ETH_ALEN: Final = 6
DESC_STR_LEN: Final = 256
SERIAL_NUM_LEN: Final = 32
OFP_DEFAULT_MISS_SEND_LEN: Final = 128
OFP_NO_BUFFER: Final = 0xFFFFFFFF
OFP_FLOW_PERMANENT: Final = 0
OFP_DEFAULT_PRIORITY: Final = 0x8000

# --- enum ofp_type ------------------------------------------------------------
OFPT_HELLO: Final = 0
OFPT_ERROR: Final = 1
OFPT_ECHO_REQUEST: Final = 2
OFPT_ECHO_REPLY: Final = 3
OFPT_EXPERIMENTER: Final = 4
OFPT_FEATURES_REQUEST: Final = 5
OFPT_FEATURES_REPLY: Final = 6
OFPT_GET_CONFIG_REQUEST: Final = 7
OFPT_GET_CONFIG_REPLY: Final = 8
OFPT_SET_CONFIG: Final = 9
OFPT_PACKET_IN: Final = 10
OFPT_FLOW_REMOVED: Final = 11
OFPT_PORT_STATUS: Final = 12
OFPT_PACKET_OUT: Final = 13
OFPT_FLOW_MOD: Final = 14
OFPT_GROUP_MOD: Final = 15
OFPT_PORT_MOD: Final = 16
OFPT_TABLE_MOD: Final = 17
OFPT_MULTIPART_REQUEST: Final = 18
OFPT_MULTIPART_REPLY: Final = 19
OFPT_BARRIER_REQUEST: Final = 20
OFPT_BARRIER_REPLY: Final = 21
OFPT_QUEUE_GET_CONFIG_REQUEST: Final = 22
OFPT_QUEUE_GET_CONFIG_REPLY: Final = 23
OFPT_ROLE_REQUEST: Final = 24
OFPT_ROLE_REPLY: Final = 25
OFPT_GET_ASYNC_REQUEST: Final = 26
OFPT_GET_ASYNC_REPLY: Final = 27
OFPT_SET_ASYNC: Final = 28
OFPT_METER_MOD: Final = 29

# --- enum ofp_hello_elem_type -------------------------------------------------
OFPHET_VERSIONBITMAP: Final = 1

# --- enum ofp_config_flags ----------------------------------------------------
OFPC_FRAG_NORMAL: Final = 0
OFPC_FRAG_DROP: Final = 1
OFPC_FRAG_REASM: Final = 2
OFPC_FRAG_MASK: Final = 3

# --- enum ofp_table_config ----------------------------------------------------
OFPTC_DEPRECATED_MASK: Final = 3

# --- enum ofp_table -----------------------------------------------------------
OFPTT_MAX: Final = 0xFE
OFPTT_ALL: Final = 0xFF

# --- enum ofp_capabilities ----------------------------------------------------
OFPC_FLOW_STATS: Final = 1 << 0
OFPC_TABLE_STATS: Final = 1 << 1
OFPC_PORT_STATS: Final = 1 << 2
OFPC_GROUP_STATS: Final = 1 << 3
OFPC_IP_REASM: Final = 1 << 5
OFPC_QUEUE_STATS: Final = 1 << 6
OFPC_PORT_BLOCKED: Final = 1 << 8

# --- enum ofp_port_config -----------------------------------------------------
OFPPC_PORT_DOWN: Final = 1 << 0
OFPPC_NO_RECV: Final = 1 << 2
OFPPC_NO_FWD: Final = 1 << 5
OFPPC_NO_PACKET_IN: Final = 1 << 6

# --- enum ofp_port_state ------------------------------------------------------
OFPPS_LINK_DOWN: Final = 1 << 0
OFPPS_BLOCKED: Final = 1 << 1
OFPPS_LIVE: Final = 1 << 2

# --- enum ofp_port_no (reserved ports) ----------------------------------------
OFPP_MAX: Final = 0xFFFFFF00
OFPP_IN_PORT: Final = 0xFFFFFFF8
OFPP_TABLE: Final = 0xFFFFFFF9
OFPP_NORMAL: Final = 0xFFFFFFFA
OFPP_FLOOD: Final = 0xFFFFFFFB
OFPP_ALL: Final = 0xFFFFFFFC
OFPP_CONTROLLER: Final = 0xFFFFFFFD
OFPP_LOCAL: Final = 0xFFFFFFFE
OFPP_ANY: Final = 0xFFFFFFFF

# --- enum ofp_port_features ---------------------------------------------------
OFPPF_10MB_HD: Final = 1 << 0
OFPPF_10MB_FD: Final = 1 << 1
OFPPF_100MB_HD: Final = 1 << 2
OFPPF_100MB_FD: Final = 1 << 3
OFPPF_1GB_HD: Final = 1 << 4
OFPPF_1GB_FD: Final = 1 << 5
OFPPF_10GB_FD: Final = 1 << 6
OFPPF_40GB_FD: Final = 1 << 7
OFPPF_100GB_FD: Final = 1 << 8
OFPPF_1TB_FD: Final = 1 << 9
OFPPF_OTHER: Final = 1 << 10
OFPPF_COPPER: Final = 1 << 11
OFPPF_FIBER: Final = 1 << 12
OFPPF_AUTONEG: Final = 1 << 13
OFPPF_PAUSE: Final = 1 << 14
OFPPF_PAUSE_ASYM: Final = 1 << 15

# --- enum ofp_port_reason -----------------------------------------------------
OFPPR_ADD: Final = 0
OFPPR_DELETE: Final = 1
OFPPR_MODIFY: Final = 2

# --- enum ofp_match_type ------------------------------------------------------
OFPMT_STANDARD: Final = 0
OFPMT_OXM: Final = 1

# --- enum ofp_oxm_class -------------------------------------------------------
OFPXMC_NXM_0: Final = 0x0000
OFPXMC_NXM_1: Final = 0x0001
OFPXMC_OPENFLOW_BASIC: Final = 0x8000
OFPXMC_EXPERIMENTER: Final = 0xFFFF

# --- enum oxm_ofb_match_fields ------------------------------------------------
OFPXMT_OFB_IN_PORT: Final = 0
OFPXMT_OFB_IN_PHY_PORT: Final = 1
OFPXMT_OFB_METADATA: Final = 2
OFPXMT_OFB_ETH_DST: Final = 3
OFPXMT_OFB_ETH_SRC: Final = 4
OFPXMT_OFB_ETH_TYPE: Final = 5
OFPXMT_OFB_VLAN_VID: Final = 6
OFPXMT_OFB_VLAN_PCP: Final = 7
OFPXMT_OFB_IP_DSCP: Final = 8
OFPXMT_OFB_IP_ECN: Final = 9
OFPXMT_OFB_IP_PROTO: Final = 10
OFPXMT_OFB_IPV4_SRC: Final = 11
OFPXMT_OFB_IPV4_DST: Final = 12
OFPXMT_OFB_TCP_SRC: Final = 13
OFPXMT_OFB_TCP_DST: Final = 14
OFPXMT_OFB_UDP_SRC: Final = 15
OFPXMT_OFB_UDP_DST: Final = 16
OFPXMT_OFB_SCTP_SRC: Final = 17
OFPXMT_OFB_SCTP_DST: Final = 18
OFPXMT_OFB_ICMPV4_TYPE: Final = 19
OFPXMT_OFB_ICMPV4_CODE: Final = 20
OFPXMT_OFB_ARP_OP: Final = 21
OFPXMT_OFB_ARP_SPA: Final = 22
OFPXMT_OFB_ARP_TPA: Final = 23
OFPXMT_OFB_ARP_SHA: Final = 24
OFPXMT_OFB_ARP_THA: Final = 25
OFPXMT_OFB_IPV6_SRC: Final = 26
OFPXMT_OFB_IPV6_DST: Final = 27
OFPXMT_OFB_IPV6_FLABEL: Final = 28
OFPXMT_OFB_ICMPV6_TYPE: Final = 29
OFPXMT_OFB_ICMPV6_CODE: Final = 30
OFPXMT_OFB_IPV6_ND_TARGET: Final = 31
OFPXMT_OFB_IPV6_ND_SLL: Final = 32
OFPXMT_OFB_IPV6_ND_TLL: Final = 33
OFPXMT_OFB_MPLS_LABEL: Final = 34
OFPXMT_OFB_MPLS_TC: Final = 35
OFPXMT_OFB_MPLS_BOS: Final = 36
OFPXMT_OFB_PBB_ISID: Final = 37
OFPXMT_OFB_TUNNEL_ID: Final = 38
OFPXMT_OFB_IPV6_EXTHDR: Final = 39

# --- enum ofp_vlan_id ---------------------------------------------------------
OFPVID_PRESENT: Final = 0x1000
OFPVID_NONE: Final = 0x0000

# --- enum ofp_ipv6exthdr_flags ------------------------------------------------
OFPIEH_NONEXT: Final = 1 << 0
OFPIEH_ESP: Final = 1 << 1
OFPIEH_AUTH: Final = 1 << 2
OFPIEH_DEST: Final = 1 << 3
OFPIEH_FRAG: Final = 1 << 4
OFPIEH_ROUTER: Final = 1 << 5
OFPIEH_HOP: Final = 1 << 6
OFPIEH_UNREP: Final = 1 << 7
OFPIEH_UNSEQ: Final = 1 << 8

# --- enum ofp_instruction_type ------------------------------------------------
OFPIT_GOTO_TABLE: Final = 1
OFPIT_WRITE_METADATA: Final = 2
OFPIT_WRITE_ACTIONS: Final = 3
OFPIT_APPLY_ACTIONS: Final = 4
OFPIT_CLEAR_ACTIONS: Final = 5
OFPIT_METER: Final = 6
OFPIT_EXPERIMENTER: Final = 0xFFFF

# --- enum ofp_action_type -----------------------------------------------------
OFPAT_OUTPUT: Final = 0
OFPAT_COPY_TTL_OUT: Final = 11
OFPAT_COPY_TTL_IN: Final = 12
OFPAT_SET_MPLS_TTL: Final = 15
OFPAT_DEC_MPLS_TTL: Final = 16
OFPAT_PUSH_VLAN: Final = 17
OFPAT_POP_VLAN: Final = 18
OFPAT_PUSH_MPLS: Final = 19
OFPAT_POP_MPLS: Final = 20
OFPAT_SET_QUEUE: Final = 21
OFPAT_GROUP: Final = 22
OFPAT_SET_NW_TTL: Final = 23
OFPAT_DEC_NW_TTL: Final = 24
OFPAT_SET_FIELD: Final = 25
OFPAT_PUSH_PBB: Final = 26
OFPAT_POP_PBB: Final = 27
OFPAT_EXPERIMENTER: Final = 0xFFFF

# --- enum ofp_controller_max_len ----------------------------------------------
OFPCML_MAX: Final = 0xFFE5
OFPCML_NO_BUFFER: Final = 0xFFFF

# --- enum ofp_flow_mod_command ------------------------------------------------
OFPFC_ADD: Final = 0
OFPFC_MODIFY: Final = 1
OFPFC_MODIFY_STRICT: Final = 2
OFPFC_DELETE: Final = 3
OFPFC_DELETE_STRICT: Final = 4

# --- enum ofp_flow_mod_flags --------------------------------------------------
OFPFF_SEND_FLOW_REM: Final = 1 << 0
OFPFF_CHECK_OVERLAP: Final = 1 << 1
OFPFF_RESET_COUNTS: Final = 1 << 2
OFPFF_NO_PKT_COUNTS: Final = 1 << 3
OFPFF_NO_BYT_COUNTS: Final = 1 << 4

# --- enum ofp_group (group numbering) -----------------------------------------
OFPG_MAX: Final = 0xFFFFFF00
OFPG_ALL: Final = 0xFFFFFFFC
OFPG_ANY: Final = 0xFFFFFFFF

# --- enum ofp_group_mod_command -----------------------------------------------
OFPGC_ADD: Final = 0
OFPGC_MODIFY: Final = 1
OFPGC_DELETE: Final = 2

# --- enum ofp_group_type ------------------------------------------------------
OFPGT_ALL: Final = 0
OFPGT_SELECT: Final = 1
OFPGT_INDIRECT: Final = 2
OFPGT_FF: Final = 3

# --- enum ofp_group_capabilities ----------------------------------------------
OFPGFC_SELECT_WEIGHT: Final = 1 << 0
OFPGFC_SELECT_LIVENESS: Final = 1 << 1
OFPGFC_CHAINING: Final = 1 << 2
OFPGFC_CHAINING_CHECKS: Final = 1 << 3

# --- enum ofp_meter (meter numbering) -----------------------------------------
OFPM_MAX: Final = 0xFFFF0000
OFPM_SLOWPATH: Final = 0xFFFFFFFD
OFPM_CONTROLLER: Final = 0xFFFFFFFE
OFPM_ALL: Final = 0xFFFFFFFF

# --- enum ofp_meter_mod_command -----------------------------------------------
OFPMC_ADD: Final = 0
OFPMC_MODIFY: Final = 1
OFPMC_DELETE: Final = 2

# --- enum ofp_meter_flags -----------------------------------------------------
OFPMF_KBPS: Final = 1 << 0
OFPMF_PKTPS: Final = 1 << 1
OFPMF_BURST: Final = 1 << 2
OFPMF_STATS: Final = 1 << 3

# --- enum ofp_meter_band_type -------------------------------------------------
OFPMBT_DROP: Final = 1
OFPMBT_DSCP_REMARK: Final = 2
OFPMBT_EXPERIMENTER: Final = 0xFFFF

# --- enum ofp_packet_in_reason ------------------------------------------------
OFPR_NO_MATCH: Final = 0
OFPR_ACTION: Final = 1
OFPR_INVALID_TTL: Final = 2

# --- enum ofp_flow_removed_reason ---------------------------------------------
OFPRR_IDLE_TIMEOUT: Final = 0
OFPRR_HARD_TIMEOUT: Final = 1
OFPRR_DELETE: Final = 2
OFPRR_GROUP_DELETE: Final = 3

# --- enum ofp_multipart_type --------------------------------------------------
OFPMP_DESC: Final = 0
OFPMP_FLOW: Final = 1
OFPMP_AGGREGATE: Final = 2
OFPMP_TABLE: Final = 3
OFPMP_PORT_STATS: Final = 4
OFPMP_QUEUE: Final = 5
OFPMP_GROUP: Final = 6
OFPMP_GROUP_DESC: Final = 7
OFPMP_GROUP_FEATURES: Final = 8
OFPMP_METER: Final = 9
OFPMP_METER_CONFIG: Final = 10
OFPMP_METER_FEATURES: Final = 11
OFPMP_TABLE_FEATURES: Final = 12
OFPMP_PORT_DESC: Final = 13
OFPMP_EXPERIMENTER: Final = 0xFFFF

# enum ofp_multipart_request_flags / ofp_multipart_reply_flags
OFPMPF_REQ_MORE: Final = 1 << 0
OFPMPF_REPLY_MORE: Final = 1 << 0

# --- enum ofp_table_feature_prop_type -----------------------------------------
OFPTFPT_INSTRUCTIONS: Final = 0
OFPTFPT_INSTRUCTIONS_MISS: Final = 1
OFPTFPT_NEXT_TABLES: Final = 2
OFPTFPT_NEXT_TABLES_MISS: Final = 3
OFPTFPT_WRITE_ACTIONS: Final = 4
OFPTFPT_WRITE_ACTIONS_MISS: Final = 5
OFPTFPT_APPLY_ACTIONS: Final = 6
OFPTFPT_APPLY_ACTIONS_MISS: Final = 7
OFPTFPT_MATCH: Final = 8
OFPTFPT_WILDCARDS: Final = 10
OFPTFPT_WRITE_SETFIELD: Final = 12
OFPTFPT_WRITE_SETFIELD_MISS: Final = 13
OFPTFPT_APPLY_SETFIELD: Final = 14
OFPTFPT_APPLY_SETFIELD_MISS: Final = 15
OFPTFPT_EXPERIMENTER: Final = 0xFFFE
OFPTFPT_EXPERIMENTER_MISS: Final = 0xFFFF

# --- enum ofp_queue_properties and queue numbering ----------------------------
OFPQT_MIN_RATE: Final = 1
OFPQT_MAX_RATE: Final = 2
OFPQT_EXPERIMENTER: Final = 0xFFFF
OFPQ_ALL: Final = 0xFFFFFFFF
OFPQ_MIN_RATE_UNCFG: Final = 0xFFFF
OFPQ_MAX_RATE_UNCFG: Final = 0xFFFF

# --- enum ofp_controller_role -------------------------------------------------
OFPCR_ROLE_NOCHANGE: Final = 0
OFPCR_ROLE_EQUAL: Final = 1
OFPCR_ROLE_MASTER: Final = 2
OFPCR_ROLE_SLAVE: Final = 3

# --- struct sizes: sizeof(struct ofp_*) as asserted in openflow.h -------------
OFP_HEADER_LEN: Final = 8
OFP_HELLO_ELEM_HEADER_LEN: Final = 4
OFP_HELLO_ELEM_VERSIONBITMAP_LEN: Final = 4  # header only; bitmaps follow
OFP_SWITCH_CONFIG_LEN: Final = 12
OFP_TABLE_MOD_LEN: Final = 16
OFP_PORT_LEN: Final = 64
OFP_SWITCH_FEATURES_LEN: Final = 32
OFP_PORT_STATUS_LEN: Final = 80
OFP_PORT_MOD_LEN: Final = 40
OFP_MATCH_LEN: Final = 8  # type, length and the first 4 bytes of oxm_fields
OFP_OXM_HEADER_LEN: Final = 4
OFP_OXM_EXPERIMENTER_HEADER_LEN: Final = 8
OFP_INSTRUCTION_LEN: Final = 4  # struct ofp_instruction (type, len)
OFP_INSTRUCTION_GOTO_TABLE_LEN: Final = 8
OFP_INSTRUCTION_WRITE_METADATA_LEN: Final = 24
OFP_INSTRUCTION_ACTIONS_LEN: Final = 8
OFP_INSTRUCTION_METER_LEN: Final = 8
OFP_INSTRUCTION_EXPERIMENTER_LEN: Final = 8
OFP_ACTION_HEADER_LEN: Final = 8
OFP_ACTION_OUTPUT_LEN: Final = 16
OFP_ACTION_MPLS_TTL_LEN: Final = 8
OFP_ACTION_PUSH_LEN: Final = 8
OFP_ACTION_POP_MPLS_LEN: Final = 8
OFP_ACTION_GROUP_LEN: Final = 8
OFP_ACTION_SET_QUEUE_LEN: Final = 8
OFP_ACTION_NW_TTL_LEN: Final = 8
OFP_ACTION_SET_FIELD_LEN: Final = 8  # type, len, and the first 4 bytes of the OXM
OFP_ACTION_EXPERIMENTER_HEADER_LEN: Final = 8
OFP_FLOW_MOD_LEN: Final = 56
OFP_BUCKET_LEN: Final = 16
OFP_GROUP_MOD_LEN: Final = 16
OFP_PACKET_OUT_LEN: Final = 24
OFP_PACKET_IN_LEN: Final = 32
OFP_FLOW_REMOVED_LEN: Final = 56
OFP_METER_BAND_HEADER_LEN: Final = 12
OFP_METER_BAND_DROP_LEN: Final = 16
OFP_METER_BAND_DSCP_REMARK_LEN: Final = 16
OFP_METER_BAND_EXPERIMENTER_LEN: Final = 16
OFP_METER_MOD_LEN: Final = 16
OFP_ERROR_MSG_LEN: Final = 12
OFP_ERROR_EXPERIMENTER_MSG_LEN: Final = 16
OFP_MULTIPART_REQUEST_LEN: Final = 16
OFP_MULTIPART_REPLY_LEN: Final = 16
OFP_DESC_LEN: Final = 1056
OFP_FLOW_STATS_REQUEST_LEN: Final = 40
OFP_FLOW_STATS_LEN: Final = 56
OFP_AGGREGATE_STATS_REQUEST_LEN: Final = 40
OFP_AGGREGATE_STATS_REPLY_LEN: Final = 24
OFP_TABLE_FEATURE_PROP_HEADER_LEN: Final = 4
OFP_TABLE_FEATURE_PROP_EXPERIMENTER_LEN: Final = 12
OFP_TABLE_FEATURES_LEN: Final = 64
OFP_TABLE_STATS_LEN: Final = 24
OFP_PORT_STATS_REQUEST_LEN: Final = 8
OFP_PORT_STATS_LEN: Final = 112
OFP_GROUP_STATS_REQUEST_LEN: Final = 8
OFP_BUCKET_COUNTER_LEN: Final = 16
OFP_GROUP_STATS_LEN: Final = 40
OFP_GROUP_DESC_LEN: Final = 8
OFP_GROUP_FEATURES_LEN: Final = 40
OFP_METER_MULTIPART_REQUEST_LEN: Final = 8
OFP_METER_BAND_STATS_LEN: Final = 16
OFP_METER_STATS_LEN: Final = 40
OFP_METER_CONFIG_LEN: Final = 8
OFP_METER_FEATURES_LEN: Final = 16
OFP_EXPERIMENTER_MULTIPART_HEADER_LEN: Final = 8
OFP_EXPERIMENTER_HEADER_LEN: Final = 16
OFP_QUEUE_PROP_HEADER_LEN: Final = 8
OFP_QUEUE_PROP_MIN_RATE_LEN: Final = 16
OFP_QUEUE_PROP_MAX_RATE_LEN: Final = 16
OFP_QUEUE_PROP_EXPERIMENTER_LEN: Final = 16
OFP_PACKET_QUEUE_LEN: Final = 16
OFP_QUEUE_GET_CONFIG_REQUEST_LEN: Final = 16
OFP_QUEUE_GET_CONFIG_REPLY_LEN: Final = 16
OFP_QUEUE_STATS_REQUEST_LEN: Final = 8
OFP_QUEUE_STATS_LEN: Final = 40
OFP_ROLE_REQUEST_LEN: Final = 24
OFP_ASYNC_CONFIG_LEN: Final = 32

# os-ken spelling of the sizes the codec uses most (same values).
OFP_HEADER_SIZE: Final = OFP_HEADER_LEN
OFP_MATCH_SIZE: Final = OFP_MATCH_LEN
OFP_ACTION_HEADER_SIZE: Final = OFP_ACTION_HEADER_LEN
OFP_ACTION_OUTPUT_SIZE: Final = OFP_ACTION_OUTPUT_LEN
OFP_ACTION_SET_FIELD_SIZE: Final = OFP_ACTION_SET_FIELD_LEN
OFP_INSTRUCTION_ACTIONS_SIZE: Final = OFP_INSTRUCTION_ACTIONS_LEN
OFP_FLOW_MOD_SIZE: Final = OFP_FLOW_MOD_LEN
OFP_PORT_SIZE: Final = OFP_PORT_LEN
OFP_BUCKET_SIZE: Final = OFP_BUCKET_LEN
OFP_MULTIPART_REQUEST_SIZE: Final = OFP_MULTIPART_REQUEST_LEN
OFP_MULTIPART_REPLY_SIZE: Final = OFP_MULTIPART_REPLY_LEN

# --- number -> name ------------------------------------------------------------

# Every prefix a caller may ask about. A name belongs to its *longest* matching
# prefix, so ``OFPC_FRAG_DROP`` is an ``OFPC_FRAG_`` name, not an ``OFPC_`` one.
_PREFIXES: Final = (
    "OFPT_", "OFPHET_", "OFPC_FRAG_", "OFPTC_", "OFPTT_", "OFPC_", "OFPPC_", "OFPPS_",
    "OFPP_", "OFPPF_", "OFPPR_", "OFPMT_", "OFPXMC_", "OFPXMT_OFB_", "OFPVID_", "OFPIEH_",
    "OFPIT_", "OFPAT_", "OFPCML_", "OFPFC_", "OFPFF_", "OFPG_", "OFPGC_", "OFPGT_", "OFPGFC_",
    "OFPM_", "OFPMC_", "OFPMF_", "OFPMBT_", "OFPR_", "OFPRR_", "OFPET_", "OFPHFC_", "OFPBRC_",
    "OFPBAC_", "OFPBIC_", "OFPBMC_", "OFPFMFC_", "OFPGMFC_", "OFPPMFC_", "OFPTMFC_", "OFPQOFC_",
    "OFPSCFC_", "OFPRRFC_", "OFPMMFC_", "OFPTFFC_", "OFPMP_", "OFPMPF_", "OFPTFPT_", "OFPQT_",
    "OFPQ_", "OFPCR_ROLE_",
)  # fmt: skip

# Error type name -> prefix of its code enum.
_ERROR_CODE_PREFIX: Final = {
    "OFPET_HELLO_FAILED": "OFPHFC_",
    "OFPET_BAD_REQUEST": "OFPBRC_",
    "OFPET_BAD_ACTION": "OFPBAC_",
    "OFPET_BAD_INSTRUCTION": "OFPBIC_",
    "OFPET_BAD_MATCH": "OFPBMC_",
    "OFPET_FLOW_MOD_FAILED": "OFPFMFC_",
    "OFPET_GROUP_MOD_FAILED": "OFPGMFC_",
    "OFPET_PORT_MOD_FAILED": "OFPPMFC_",
    "OFPET_TABLE_MOD_FAILED": "OFPTMFC_",
    "OFPET_QUEUE_OP_FAILED": "OFPQOFC_",
    "OFPET_SWITCH_CONFIG_FAILED": "OFPSCFC_",
    "OFPET_ROLE_REQUEST_FAILED": "OFPRRFC_",
    "OFPET_METER_MOD_FAILED": "OFPMMFC_",
    "OFPET_TABLE_FEATURES_FAILED": "OFPTFFC_",
}


def _build_tables() -> dict[str, dict[int, str]]:
    tables: dict[str, dict[int, str]] = {p: {} for p in _PREFIXES}
    for name, value in list(globals().items()):
        if not name.startswith("OFP") or name.startswith("OFP_") or not isinstance(value, int):
            continue
        owners = [p for p in _PREFIXES if name.startswith(p)]
        if owners:
            # First definition wins for shared values (OFPMPF_REQ_MORE before REPLY_MORE).
            tables[max(owners, key=len)].setdefault(value, name)
    return tables


_TABLES: Final = _build_tables()


def name_of(prefix: str, value: int) -> str:
    """The constant name with ``prefix`` whose value is ``value``, else its hex form.

    >>> name_of("OFPT_", 14)
    'OFPT_FLOW_MOD'
    >>> name_of("OFPP_", 0xFFFFFFFD)
    'OFPP_CONTROLLER'
    """
    table = _TABLES.get(prefix)
    if table is None:
        raise KeyError(f"no constant family {prefix!r}")
    return table.get(value, f"{prefix}{value:#x}")


def flag_names(prefix: str, value: int) -> list[str]:
    """Names of the single-bit flags of ``prefix`` set in ``value``; unknown bits in hex.

    >>> flag_names("OFPFF_", 0b101)
    ['OFPFF_SEND_FLOW_REM', 'OFPFF_RESET_COUNTS']
    """
    table = _TABLES.get(prefix)
    if table is None:
        raise KeyError(f"no constant family {prefix!r}")
    names: list[str] = []
    rest = value
    bit = 1
    while rest:
        if rest & bit:
            names.append(table.get(bit, f"{bit:#x}"))
            rest &= ~bit
        bit <<= 1
    return names


def error_name(type: int, code: int) -> str:
    """``"OFPET_BAD_REQUEST/OFPBRC_BAD_LEN"``; unknown types or codes print as numbers."""
    type_name = _TABLES["OFPET_"].get(type, str(type))
    prefix = _ERROR_CODE_PREFIX.get(type_name)
    if prefix is None:
        return f"{type_name}/{code}"
    return f"{type_name}/{_TABLES[prefix].get(code, str(code))}"
