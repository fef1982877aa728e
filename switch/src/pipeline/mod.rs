//! The OpenFlow pipeline.
