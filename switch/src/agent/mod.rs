//! The switch side of OpenFlow channels, sans-IO (being written).
