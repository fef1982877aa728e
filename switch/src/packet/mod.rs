//! Packet parsing and rewriting.
