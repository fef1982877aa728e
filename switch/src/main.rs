//! `ofswitch`: the OpenFlow 1.3 software switch.
//!
//! One binary, three faces, as Open vSwitch has three tools:
//!
//! - `ofswitch daemon`: the switch itself (ovs-vswitchd);
//! - `ofswitch vsctl VERB...`: configure it (ovs-vsctl): bridges, ports,
//!   controllers; talks to the daemon over its management socket;
//! - `ofswitch ofctl VERB...`: inspect and program any OpenFlow 1.3 switch
//!   (ovs-ofctl), ours through the bridge's local socket or any switch
//!   through `tcp:` or `unix:` targets;
//! - `ofswitch appctl COMMAND...`: ask the daemon about what it learned
//!   (ovs-appctl): `fdb/show`, `fdb/flush`, `ofproto/trace`.
//!
//! Every subcommand takes `--state-dir DIR` (or `OFSWITCH_STATE_DIR`): the
//! daemon keeps its configuration and sockets there, so several daemons
//! can run side by side.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Default state directory (configuration, sockets, pid file, log).
const DEFAULT_STATE_DIR: &str = "/var/lib/ofswitch";

#[derive(Parser)]
#[command(name = "ofswitch", version, about = "An OpenFlow 1.3 software switch")]
struct Cli {
    /// Directory for configuration, sockets, pid file and log.
    #[arg(long, global = true, env = "OFSWITCH_STATE_DIR", default_value = DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the switch (foreground unless --detach).
    #[command(disable_help_flag = true)]
    Daemon {
        /// Arguments of the daemon (see `ofswitch daemon --help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Configure bridges, ports and controllers, like ovs-vsctl.
    #[command(disable_help_flag = true)]
    Vsctl {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Inspect and program an OpenFlow 1.3 switch, like ovs-ofctl.
    #[command(disable_help_flag = true)]
    Ofctl {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Ask the daemon about what it learned, like ovs-appctl (fdb/show).
    #[command(disable_help_flag = true)]
    Appctl {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Daemon { args } => ofswitch::daemon::run::main(&cli.state_dir, args),
        Command::Vsctl { args } => ofswitch::config::cli::main(&cli.state_dir, args),
        Command::Ofctl { args } => ofswitch::ofctl::cli::main(&cli.state_dir, args),
        Command::Appctl { args } => ofswitch::appctl::main(&cli.state_dir, args),
    }
}
