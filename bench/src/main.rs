//! `ofbench`: load generators for OpenFlow 1.3 switches, ours or Open
//! vSwitch, driven over the same OpenFlow client `ofswitch ofctl` uses.
//!
//! One binary with one subcommand per kind of load, so that the
//! benchmark scripts find every generator in one place and they share the
//! connection code and the latency summary ([`stats`]):
//!
//! - `flow-mods` ([`flow_mods`]): one FLOW_MOD + BARRIER at a time, as a
//!   learning controller adds flows; time per flow and percentiles.
//! - `cbench` ([`cbench`]): emulated switches sending packet-ins to a
//!   controller; packet-ins answered per second and their latency.
//! - `echo-controller` ([`echo_controller`]): a controller that does nothing
//!   but answer packet-ins, to measure `cbench` alone.
//!
//! Why not ovs-ofctl alone: its `add-flows` waits for a barrier after every
//! FLOW_MOD, so it measures that round trip; `flow-mods` can also time one
//! flow into a table of a given size, or batches of FLOW_MODs per barrier
//! (the switch's own rate).

mod cbench;
mod echo_controller;
mod flow_mods;
mod poll;
mod stats;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ofbench",
    version,
    about = "Load generators for OpenFlow 1.3 switches (ofswitch, Open vSwitch)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add flows one FLOW_MOD + BARRIER at a time (a learning controller's
    /// pattern), or N per barrier (--batch); prints the rate and the time
    /// per barrier round trip with its percentiles.
    FlowMods(flow_mods::Args),
    /// Emulate N switches sending packet-ins to a controller (like
    /// cbench); prints packet-ins answered per second and their latency.
    Cbench(cbench::Args),
    /// A controller that answers every packet-in with a PACKET_OUT and does
    /// nothing else: cbench against it measures the generator alone.
    EchoController(echo_controller::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::FlowMods(args) => flow_mods::run(args).map(|r| {
            if args.json {
                println!("{}", r.json());
            } else {
                print!("{}", r.text());
            }
        }),
        Command::Cbench(args) => cbench::run_and_print(args),
        Command::EchoController(args) => echo_controller::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            for line in e.lines() {
                eprintln!("ofbench: {line}");
            }
            ExitCode::FAILURE
        }
    }
}
