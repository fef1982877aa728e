//! OpenFlow error types and codes (spec 7.4.4), and the decode error that
//! carries the OFPT_ERROR a switch should answer a bad message with.
//!
//! Codes are kept as a plain `(type, code)` pair, [`OfError`], rather than one
//! enum per error type: messages from peers may carry codes this crate does not
//! know, and those must survive a decode/encode round trip unchanged. The named
//! constants and [`OfError::name`] cover every code of OpenFlow 1.3.5.

use std::fmt;

/// An OpenFlow error type and code, as carried by OFPT_ERROR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OfError {
    pub typ: u16,
    pub code: u16,
}

/// `ofp_error_type` values.
pub mod error_type {
    pub const HELLO_FAILED: u16 = 0;
    pub const BAD_REQUEST: u16 = 1;
    pub const BAD_ACTION: u16 = 2;
    pub const BAD_INSTRUCTION: u16 = 3;
    pub const BAD_MATCH: u16 = 4;
    pub const FLOW_MOD_FAILED: u16 = 5;
    pub const GROUP_MOD_FAILED: u16 = 6;
    pub const PORT_MOD_FAILED: u16 = 7;
    pub const TABLE_MOD_FAILED: u16 = 8;
    pub const QUEUE_OP_FAILED: u16 = 9;
    pub const SWITCH_CONFIG_FAILED: u16 = 10;
    pub const ROLE_REQUEST_FAILED: u16 = 11;
    pub const METER_MOD_FAILED: u16 = 12;
    pub const TABLE_FEATURES_FAILED: u16 = 13;
    pub const EXPERIMENTER: u16 = 0xffff;
}

const TYPE_NAMES: &[(u16, &str)] = &[
    (0, "OFPET_HELLO_FAILED"),
    (1, "OFPET_BAD_REQUEST"),
    (2, "OFPET_BAD_ACTION"),
    (3, "OFPET_BAD_INSTRUCTION"),
    (4, "OFPET_BAD_MATCH"),
    (5, "OFPET_FLOW_MOD_FAILED"),
    (6, "OFPET_GROUP_MOD_FAILED"),
    (7, "OFPET_PORT_MOD_FAILED"),
    (8, "OFPET_TABLE_MOD_FAILED"),
    (9, "OFPET_QUEUE_OP_FAILED"),
    (10, "OFPET_SWITCH_CONFIG_FAILED"),
    (11, "OFPET_ROLE_REQUEST_FAILED"),
    (12, "OFPET_METER_MOD_FAILED"),
    (13, "OFPET_TABLE_FEATURES_FAILED"),
    (0xffff, "OFPET_EXPERIMENTER"),
];

macro_rules! of_errors {
    ($($konst:ident = ($t:ident, $c:expr, $name:literal);)*) => {
        impl OfError {
            $(
                #[doc = $name]
                pub const $konst: OfError = OfError { typ: error_type::$t, code: $c };
            )*
        }
        const CODE_NAMES: &[(u16, u16, &str)] = &[$((error_type::$t, $c, $name)),*];
    };
}

of_errors! {
    HFC_INCOMPATIBLE = (HELLO_FAILED, 0, "OFPHFC_INCOMPATIBLE");
    HFC_EPERM = (HELLO_FAILED, 1, "OFPHFC_EPERM");

    BRC_BAD_VERSION = (BAD_REQUEST, 0, "OFPBRC_BAD_VERSION");
    BRC_BAD_TYPE = (BAD_REQUEST, 1, "OFPBRC_BAD_TYPE");
    BRC_BAD_MULTIPART = (BAD_REQUEST, 2, "OFPBRC_BAD_MULTIPART");
    BRC_BAD_EXPERIMENTER = (BAD_REQUEST, 3, "OFPBRC_BAD_EXPERIMENTER");
    BRC_BAD_EXP_TYPE = (BAD_REQUEST, 4, "OFPBRC_BAD_EXP_TYPE");
    BRC_EPERM = (BAD_REQUEST, 5, "OFPBRC_EPERM");
    BRC_BAD_LEN = (BAD_REQUEST, 6, "OFPBRC_BAD_LEN");
    BRC_BUFFER_EMPTY = (BAD_REQUEST, 7, "OFPBRC_BUFFER_EMPTY");
    BRC_BUFFER_UNKNOWN = (BAD_REQUEST, 8, "OFPBRC_BUFFER_UNKNOWN");
    BRC_BAD_TABLE_ID = (BAD_REQUEST, 9, "OFPBRC_BAD_TABLE_ID");
    BRC_IS_SLAVE = (BAD_REQUEST, 10, "OFPBRC_IS_SLAVE");
    BRC_BAD_PORT = (BAD_REQUEST, 11, "OFPBRC_BAD_PORT");
    BRC_BAD_PACKET = (BAD_REQUEST, 12, "OFPBRC_BAD_PACKET");
    BRC_MULTIPART_BUFFER_OVERFLOW = (BAD_REQUEST, 13, "OFPBRC_MULTIPART_BUFFER_OVERFLOW");

    BAC_BAD_TYPE = (BAD_ACTION, 0, "OFPBAC_BAD_TYPE");
    BAC_BAD_LEN = (BAD_ACTION, 1, "OFPBAC_BAD_LEN");
    BAC_BAD_EXPERIMENTER = (BAD_ACTION, 2, "OFPBAC_BAD_EXPERIMENTER");
    BAC_BAD_EXP_TYPE = (BAD_ACTION, 3, "OFPBAC_BAD_EXP_TYPE");
    BAC_BAD_OUT_PORT = (BAD_ACTION, 4, "OFPBAC_BAD_OUT_PORT");
    BAC_BAD_ARGUMENT = (BAD_ACTION, 5, "OFPBAC_BAD_ARGUMENT");
    BAC_EPERM = (BAD_ACTION, 6, "OFPBAC_EPERM");
    BAC_TOO_MANY = (BAD_ACTION, 7, "OFPBAC_TOO_MANY");
    BAC_BAD_QUEUE = (BAD_ACTION, 8, "OFPBAC_BAD_QUEUE");
    BAC_BAD_OUT_GROUP = (BAD_ACTION, 9, "OFPBAC_BAD_OUT_GROUP");
    BAC_MATCH_INCONSISTENT = (BAD_ACTION, 10, "OFPBAC_MATCH_INCONSISTENT");
    BAC_UNSUPPORTED_ORDER = (BAD_ACTION, 11, "OFPBAC_UNSUPPORTED_ORDER");
    BAC_BAD_TAG = (BAD_ACTION, 12, "OFPBAC_BAD_TAG");
    BAC_BAD_SET_TYPE = (BAD_ACTION, 13, "OFPBAC_BAD_SET_TYPE");
    BAC_BAD_SET_LEN = (BAD_ACTION, 14, "OFPBAC_BAD_SET_LEN");
    BAC_BAD_SET_ARGUMENT = (BAD_ACTION, 15, "OFPBAC_BAD_SET_ARGUMENT");

    BIC_UNKNOWN_INST = (BAD_INSTRUCTION, 0, "OFPBIC_UNKNOWN_INST");
    BIC_UNSUP_INST = (BAD_INSTRUCTION, 1, "OFPBIC_UNSUP_INST");
    BIC_BAD_TABLE_ID = (BAD_INSTRUCTION, 2, "OFPBIC_BAD_TABLE_ID");
    BIC_UNSUP_METADATA = (BAD_INSTRUCTION, 3, "OFPBIC_UNSUP_METADATA");
    BIC_UNSUP_METADATA_MASK = (BAD_INSTRUCTION, 4, "OFPBIC_UNSUP_METADATA_MASK");
    BIC_BAD_EXPERIMENTER = (BAD_INSTRUCTION, 5, "OFPBIC_BAD_EXPERIMENTER");
    BIC_BAD_EXP_TYPE = (BAD_INSTRUCTION, 6, "OFPBIC_BAD_EXP_TYPE");
    BIC_BAD_LEN = (BAD_INSTRUCTION, 7, "OFPBIC_BAD_LEN");
    BIC_EPERM = (BAD_INSTRUCTION, 8, "OFPBIC_EPERM");

    BMC_BAD_TYPE = (BAD_MATCH, 0, "OFPBMC_BAD_TYPE");
    BMC_BAD_LEN = (BAD_MATCH, 1, "OFPBMC_BAD_LEN");
    BMC_BAD_TAG = (BAD_MATCH, 2, "OFPBMC_BAD_TAG");
    BMC_BAD_DL_ADDR_MASK = (BAD_MATCH, 3, "OFPBMC_BAD_DL_ADDR_MASK");
    BMC_BAD_NW_ADDR_MASK = (BAD_MATCH, 4, "OFPBMC_BAD_NW_ADDR_MASK");
    BMC_BAD_WILDCARDS = (BAD_MATCH, 5, "OFPBMC_BAD_WILDCARDS");
    BMC_BAD_FIELD = (BAD_MATCH, 6, "OFPBMC_BAD_FIELD");
    BMC_BAD_VALUE = (BAD_MATCH, 7, "OFPBMC_BAD_VALUE");
    BMC_BAD_MASK = (BAD_MATCH, 8, "OFPBMC_BAD_MASK");
    BMC_BAD_PREREQ = (BAD_MATCH, 9, "OFPBMC_BAD_PREREQ");
    BMC_DUP_FIELD = (BAD_MATCH, 10, "OFPBMC_DUP_FIELD");
    BMC_EPERM = (BAD_MATCH, 11, "OFPBMC_EPERM");

    FMFC_UNKNOWN = (FLOW_MOD_FAILED, 0, "OFPFMFC_UNKNOWN");
    FMFC_TABLE_FULL = (FLOW_MOD_FAILED, 1, "OFPFMFC_TABLE_FULL");
    FMFC_BAD_TABLE_ID = (FLOW_MOD_FAILED, 2, "OFPFMFC_BAD_TABLE_ID");
    FMFC_OVERLAP = (FLOW_MOD_FAILED, 3, "OFPFMFC_OVERLAP");
    FMFC_EPERM = (FLOW_MOD_FAILED, 4, "OFPFMFC_EPERM");
    FMFC_BAD_TIMEOUT = (FLOW_MOD_FAILED, 5, "OFPFMFC_BAD_TIMEOUT");
    FMFC_BAD_COMMAND = (FLOW_MOD_FAILED, 6, "OFPFMFC_BAD_COMMAND");
    FMFC_BAD_FLAGS = (FLOW_MOD_FAILED, 7, "OFPFMFC_BAD_FLAGS");

    GMFC_GROUP_EXISTS = (GROUP_MOD_FAILED, 0, "OFPGMFC_GROUP_EXISTS");
    GMFC_INVALID_GROUP = (GROUP_MOD_FAILED, 1, "OFPGMFC_INVALID_GROUP");
    GMFC_WEIGHT_UNSUPPORTED = (GROUP_MOD_FAILED, 2, "OFPGMFC_WEIGHT_UNSUPPORTED");
    GMFC_OUT_OF_GROUPS = (GROUP_MOD_FAILED, 3, "OFPGMFC_OUT_OF_GROUPS");
    GMFC_OUT_OF_BUCKETS = (GROUP_MOD_FAILED, 4, "OFPGMFC_OUT_OF_BUCKETS");
    GMFC_CHAINING_UNSUPPORTED = (GROUP_MOD_FAILED, 5, "OFPGMFC_CHAINING_UNSUPPORTED");
    GMFC_WATCH_UNSUPPORTED = (GROUP_MOD_FAILED, 6, "OFPGMFC_WATCH_UNSUPPORTED");
    GMFC_LOOP = (GROUP_MOD_FAILED, 7, "OFPGMFC_LOOP");
    GMFC_UNKNOWN_GROUP = (GROUP_MOD_FAILED, 8, "OFPGMFC_UNKNOWN_GROUP");
    GMFC_CHAINED_GROUP = (GROUP_MOD_FAILED, 9, "OFPGMFC_CHAINED_GROUP");
    GMFC_BAD_TYPE = (GROUP_MOD_FAILED, 10, "OFPGMFC_BAD_TYPE");
    GMFC_BAD_COMMAND = (GROUP_MOD_FAILED, 11, "OFPGMFC_BAD_COMMAND");
    GMFC_BAD_BUCKET = (GROUP_MOD_FAILED, 12, "OFPGMFC_BAD_BUCKET");
    GMFC_BAD_WATCH = (GROUP_MOD_FAILED, 13, "OFPGMFC_BAD_WATCH");
    GMFC_EPERM = (GROUP_MOD_FAILED, 14, "OFPGMFC_EPERM");

    PMFC_BAD_PORT = (PORT_MOD_FAILED, 0, "OFPPMFC_BAD_PORT");
    PMFC_BAD_HW_ADDR = (PORT_MOD_FAILED, 1, "OFPPMFC_BAD_HW_ADDR");
    PMFC_BAD_CONFIG = (PORT_MOD_FAILED, 2, "OFPPMFC_BAD_CONFIG");
    PMFC_BAD_ADVERTISE = (PORT_MOD_FAILED, 3, "OFPPMFC_BAD_ADVERTISE");
    PMFC_EPERM = (PORT_MOD_FAILED, 4, "OFPPMFC_EPERM");

    TMFC_BAD_TABLE = (TABLE_MOD_FAILED, 0, "OFPTMFC_BAD_TABLE");
    TMFC_BAD_CONFIG = (TABLE_MOD_FAILED, 1, "OFPTMFC_BAD_CONFIG");
    TMFC_EPERM = (TABLE_MOD_FAILED, 2, "OFPTMFC_EPERM");

    QOFC_BAD_PORT = (QUEUE_OP_FAILED, 0, "OFPQOFC_BAD_PORT");
    QOFC_BAD_QUEUE = (QUEUE_OP_FAILED, 1, "OFPQOFC_BAD_QUEUE");
    QOFC_EPERM = (QUEUE_OP_FAILED, 2, "OFPQOFC_EPERM");

    SCFC_BAD_FLAGS = (SWITCH_CONFIG_FAILED, 0, "OFPSCFC_BAD_FLAGS");
    SCFC_BAD_LEN = (SWITCH_CONFIG_FAILED, 1, "OFPSCFC_BAD_LEN");
    SCFC_EPERM = (SWITCH_CONFIG_FAILED, 2, "OFPSCFC_EPERM");

    RRFC_STALE = (ROLE_REQUEST_FAILED, 0, "OFPRRFC_STALE");
    RRFC_UNSUP = (ROLE_REQUEST_FAILED, 1, "OFPRRFC_UNSUP");
    RRFC_BAD_ROLE = (ROLE_REQUEST_FAILED, 2, "OFPRRFC_BAD_ROLE");

    MMFC_UNKNOWN = (METER_MOD_FAILED, 0, "OFPMMFC_UNKNOWN");
    MMFC_METER_EXISTS = (METER_MOD_FAILED, 1, "OFPMMFC_METER_EXISTS");
    MMFC_INVALID_METER = (METER_MOD_FAILED, 2, "OFPMMFC_INVALID_METER");
    MMFC_UNKNOWN_METER = (METER_MOD_FAILED, 3, "OFPMMFC_UNKNOWN_METER");
    MMFC_BAD_COMMAND = (METER_MOD_FAILED, 4, "OFPMMFC_BAD_COMMAND");
    MMFC_BAD_FLAGS = (METER_MOD_FAILED, 5, "OFPMMFC_BAD_FLAGS");
    MMFC_BAD_RATE = (METER_MOD_FAILED, 6, "OFPMMFC_BAD_RATE");
    MMFC_BAD_BURST = (METER_MOD_FAILED, 7, "OFPMMFC_BAD_BURST");
    MMFC_BAD_BAND = (METER_MOD_FAILED, 8, "OFPMMFC_BAD_BAND");
    MMFC_BAD_BAND_VALUE = (METER_MOD_FAILED, 9, "OFPMMFC_BAD_BAND_VALUE");
    MMFC_OUT_OF_METERS = (METER_MOD_FAILED, 10, "OFPMMFC_OUT_OF_METERS");
    MMFC_OUT_OF_BANDS = (METER_MOD_FAILED, 11, "OFPMMFC_OUT_OF_BANDS");

    TFFC_BAD_TABLE = (TABLE_FEATURES_FAILED, 0, "OFPTFFC_BAD_TABLE");
    TFFC_BAD_METADATA = (TABLE_FEATURES_FAILED, 1, "OFPTFFC_BAD_METADATA");
    TFFC_BAD_TYPE = (TABLE_FEATURES_FAILED, 2, "OFPTFFC_BAD_TYPE");
    TFFC_BAD_LEN = (TABLE_FEATURES_FAILED, 3, "OFPTFFC_BAD_LEN");
    TFFC_BAD_ARGUMENT = (TABLE_FEATURES_FAILED, 4, "OFPTFFC_BAD_ARGUMENT");
    TFFC_EPERM = (TABLE_FEATURES_FAILED, 5, "OFPTFFC_EPERM");
}

impl OfError {
    pub const fn new(typ: u16, code: u16) -> Self {
        OfError { typ, code }
    }

    /// The spec's name of the error type, e.g. `OFPET_BAD_REQUEST`.
    pub fn type_name(&self) -> Option<&'static str> {
        TYPE_NAMES
            .iter()
            .find(|(t, _)| *t == self.typ)
            .map(|(_, n)| *n)
    }

    /// The spec's name of the code, e.g. `OFPBRC_BAD_TYPE`.
    pub fn name(&self) -> Option<&'static str> {
        CODE_NAMES
            .iter()
            .find(|(t, c, _)| *t == self.typ && *c == self.code)
            .map(|(_, _, n)| *n)
    }

    /// Every error code this crate names, for tests and tools.
    pub fn all() -> impl Iterator<Item = OfError> {
        CODE_NAMES
            .iter()
            .map(|&(typ, code, _)| OfError { typ, code })
    }
}

impl fmt::Display for OfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.type_name(), self.name()) {
            (Some(t), Some(c)) => write!(f, "{t}/{c}"),
            (Some(t), None) => write!(f, "{t}/code {}", self.code),
            _ => write!(f, "type {}/code {}", self.typ, self.code),
        }
    }
}

/// Why a message could not be decoded, and which OFPT_ERROR answers it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {what}")]
pub struct DecodeError {
    /// The error type and code a switch sends back for this message.
    pub error: OfError,
    /// What was wrong, for logs.
    pub what: &'static str,
}

impl DecodeError {
    pub const fn new(error: OfError, what: &'static str) -> Self {
        DecodeError { error, what }
    }
}

/// Shorthand for building an `Err(DecodeError)`.
pub(crate) fn bad<T>(error: OfError, what: &'static str) -> Result<T, DecodeError> {
    Err(DecodeError::new(error, what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(OfError::BRC_BAD_TYPE.name(), Some("OFPBRC_BAD_TYPE"));
        assert_eq!(
            OfError::BMC_BAD_PREREQ.to_string(),
            "OFPET_BAD_MATCH/OFPBMC_BAD_PREREQ"
        );
        assert_eq!(OfError::new(99, 1).to_string(), "type 99/code 1");
        assert_eq!(
            OfError::all().count(),
            2 + 14 + 16 + 9 + 12 + 8 + 15 + 5 + 3 + 3 + 3 + 3 + 12 + 6
        );
    }
}
