//! `ofbench`: load generators for OpenFlow 1.3 switches, ours or Open
//! vSwitch, driven over the same OpenFlow client `ofswitch ofctl` uses.
//!
//! One binary with one subcommand per kind of load, so that the
//! benchmark scripts find every generator in one place and they share the
//! connection code and the latency summary ([`stats`]):
//!
//! - `flow-mods` ([`flow_mods`]): one FLOW_MOD + BARRIER at a time, as a
//!   learning controller adds flows; time per flow and percentiles.
//!
//! Why not ovs-ofctl: it sends whole files and one barrier (bulk
//! throughput, which `scripts/bench-flows.sh` measures with it); it has no
//! mode that waits for each flow.

mod flow_mods;
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
    /// pattern); prints the time per flow and its percentiles.
    FlowMods(flow_mods::Args),
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
