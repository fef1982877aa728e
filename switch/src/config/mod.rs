//! The switch's configuration: bridges, ports, interfaces, controllers
//! (being written).
pub mod cli;
