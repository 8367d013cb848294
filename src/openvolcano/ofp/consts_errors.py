"""OpenFlow 1.3.5 error types (``enum ofp_error_type``) and every error-code enum.

Split out of :mod:`openvolcano.ofp.consts` only to keep modules short; import
these names from ``consts`` (which re-exports all of them), never from here.
The names and values are exactly those of ``openflow.h``; the codec's decoders
raise them inside :class:`~openvolcano.ofp.errors.OFPDecodeError` and the
peer's ``OFPT_ERROR`` carries them back.
"""

from __future__ import annotations

from typing import Final

# --- enum ofp_error_type ------------------------------------------------------
OFPET_HELLO_FAILED: Final = 0
OFPET_BAD_REQUEST: Final = 1
OFPET_BAD_ACTION: Final = 2
OFPET_BAD_INSTRUCTION: Final = 3
OFPET_BAD_MATCH: Final = 4
OFPET_FLOW_MOD_FAILED: Final = 5
OFPET_GROUP_MOD_FAILED: Final = 6
OFPET_PORT_MOD_FAILED: Final = 7
OFPET_TABLE_MOD_FAILED: Final = 8
OFPET_QUEUE_OP_FAILED: Final = 9
OFPET_SWITCH_CONFIG_FAILED: Final = 10
OFPET_ROLE_REQUEST_FAILED: Final = 11
OFPET_METER_MOD_FAILED: Final = 12
OFPET_TABLE_FEATURES_FAILED: Final = 13
OFPET_EXPERIMENTER: Final = 0xFFFF

# enum ofp_hello_failed_code
OFPHFC_INCOMPATIBLE: Final = 0
OFPHFC_EPERM: Final = 1

# enum ofp_bad_request_code
OFPBRC_BAD_VERSION: Final = 0
OFPBRC_BAD_TYPE: Final = 1
OFPBRC_BAD_MULTIPART: Final = 2
OFPBRC_BAD_EXPERIMENTER: Final = 3
OFPBRC_BAD_EXP_TYPE: Final = 4
OFPBRC_EPERM: Final = 5
OFPBRC_BAD_LEN: Final = 6
OFPBRC_BUFFER_EMPTY: Final = 7
OFPBRC_BUFFER_UNKNOWN: Final = 8
OFPBRC_BAD_TABLE_ID: Final = 9
OFPBRC_IS_SLAVE: Final = 10
OFPBRC_BAD_PORT: Final = 11
OFPBRC_BAD_PACKET: Final = 12
OFPBRC_MULTIPART_BUFFER_OVERFLOW: Final = 13

# enum ofp_bad_action_code
OFPBAC_BAD_TYPE: Final = 0
OFPBAC_BAD_LEN: Final = 1
OFPBAC_BAD_EXPERIMENTER: Final = 2
OFPBAC_BAD_EXP_TYPE: Final = 3
OFPBAC_BAD_OUT_PORT: Final = 4
OFPBAC_BAD_ARGUMENT: Final = 5
OFPBAC_EPERM: Final = 6
OFPBAC_TOO_MANY: Final = 7
OFPBAC_BAD_QUEUE: Final = 8
OFPBAC_BAD_OUT_GROUP: Final = 9
OFPBAC_MATCH_INCONSISTENT: Final = 10
OFPBAC_UNSUPPORTED_ORDER: Final = 11
OFPBAC_BAD_TAG: Final = 12
OFPBAC_BAD_SET_TYPE: Final = 13
OFPBAC_BAD_SET_LEN: Final = 14
OFPBAC_BAD_SET_ARGUMENT: Final = 15

# enum ofp_bad_instruction_code
OFPBIC_UNKNOWN_INST: Final = 0
OFPBIC_UNSUP_INST: Final = 1
OFPBIC_BAD_TABLE_ID: Final = 2
OFPBIC_UNSUP_METADATA: Final = 3
OFPBIC_UNSUP_METADATA_MASK: Final = 4
OFPBIC_BAD_EXPERIMENTER: Final = 5
OFPBIC_BAD_EXP_TYPE: Final = 6
OFPBIC_BAD_LEN: Final = 7
OFPBIC_EPERM: Final = 8

# enum ofp_bad_match_code
OFPBMC_BAD_TYPE: Final = 0
OFPBMC_BAD_LEN: Final = 1
OFPBMC_BAD_TAG: Final = 2
OFPBMC_BAD_DL_ADDR_MASK: Final = 3
OFPBMC_BAD_NW_ADDR_MASK: Final = 4
OFPBMC_BAD_WILDCARDS: Final = 5
OFPBMC_BAD_FIELD: Final = 6
OFPBMC_BAD_VALUE: Final = 7
OFPBMC_BAD_MASK: Final = 8
OFPBMC_BAD_PREREQ: Final = 9
OFPBMC_DUP_FIELD: Final = 10
OFPBMC_EPERM: Final = 11

# enum ofp_flow_mod_failed_code
OFPFMFC_UNKNOWN: Final = 0
OFPFMFC_TABLE_FULL: Final = 1
OFPFMFC_BAD_TABLE_ID: Final = 2
OFPFMFC_OVERLAP: Final = 3
OFPFMFC_EPERM: Final = 4
OFPFMFC_BAD_TIMEOUT: Final = 5
OFPFMFC_BAD_COMMAND: Final = 6
OFPFMFC_BAD_FLAGS: Final = 7

# enum ofp_group_mod_failed_code
OFPGMFC_GROUP_EXISTS: Final = 0
OFPGMFC_INVALID_GROUP: Final = 1
OFPGMFC_WEIGHT_UNSUPPORTED: Final = 2
OFPGMFC_OUT_OF_GROUPS: Final = 3
OFPGMFC_OUT_OF_BUCKETS: Final = 4
OFPGMFC_CHAINING_UNSUPPORTED: Final = 5
OFPGMFC_WATCH_UNSUPPORTED: Final = 6
OFPGMFC_LOOP: Final = 7
OFPGMFC_UNKNOWN_GROUP: Final = 8
OFPGMFC_CHAINED_GROUP: Final = 9
OFPGMFC_BAD_TYPE: Final = 10
OFPGMFC_BAD_COMMAND: Final = 11
OFPGMFC_BAD_BUCKET: Final = 12
OFPGMFC_BAD_WATCH: Final = 13
OFPGMFC_EPERM: Final = 14

# enum ofp_port_mod_failed_code
OFPPMFC_BAD_PORT: Final = 0
OFPPMFC_BAD_HW_ADDR: Final = 1
OFPPMFC_BAD_CONFIG: Final = 2
OFPPMFC_BAD_ADVERTISE: Final = 3
OFPPMFC_EPERM: Final = 4

# enum ofp_table_mod_failed_code
OFPTMFC_BAD_TABLE: Final = 0
OFPTMFC_BAD_CONFIG: Final = 1
OFPTMFC_EPERM: Final = 2

# enum ofp_queue_op_failed_code
OFPQOFC_BAD_PORT: Final = 0
OFPQOFC_BAD_QUEUE: Final = 1
OFPQOFC_EPERM: Final = 2

# enum ofp_switch_config_failed_code
OFPSCFC_BAD_FLAGS: Final = 0
OFPSCFC_BAD_LEN: Final = 1
OFPSCFC_EPERM: Final = 2

# enum ofp_role_request_failed_code
OFPRRFC_STALE: Final = 0
OFPRRFC_UNSUP: Final = 1
OFPRRFC_BAD_ROLE: Final = 2

# enum ofp_meter_mod_failed_code
OFPMMFC_UNKNOWN: Final = 0
OFPMMFC_METER_EXISTS: Final = 1
OFPMMFC_INVALID_METER: Final = 2
OFPMMFC_UNKNOWN_METER: Final = 3
OFPMMFC_BAD_COMMAND: Final = 4
OFPMMFC_BAD_FLAGS: Final = 5
OFPMMFC_BAD_RATE: Final = 6
OFPMMFC_BAD_BURST: Final = 7
OFPMMFC_BAD_BAND: Final = 8
OFPMMFC_BAD_BAND_VALUE: Final = 9
OFPMMFC_OUT_OF_METERS: Final = 10
OFPMMFC_OUT_OF_BANDS: Final = 11

# enum ofp_table_features_failed_code
OFPTFFC_BAD_TABLE: Final = 0
OFPTFFC_BAD_METADATA: Final = 1
OFPTFFC_BAD_TYPE: Final = 2
OFPTFFC_BAD_LEN: Final = 3
OFPTFFC_BAD_ARGUMENT: Final = 4
OFPTFFC_EPERM: Final = 5
