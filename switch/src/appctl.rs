//! `ofswitch appctl COMMAND [ARG...]`: questions to the running daemon
//! about its state, as `ovs-appctl` asks ovs-vswitchd: the MAC learning
//! table of a bridge in standalone mode (`fdb/show`, `fdb/flush`) and a
//! packet's way through the tables (`ofproto/trace`, also
//! `ofswitch ofctl trace`).
//!
//! Why a face of its own rather than more vsctl verbs: vsctl reads and
//! writes the configuration (what ovs-vsctl does to the database); these
//! read or reset what the datapath learned, which is no configuration.
//! The daemon answers them on its management socket like vsctl requests.

use crate::config::protocol;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

const PREFIX: &str = "ofswitch appctl";

const USAGE: &str = "usage: ofswitch [--state-dir DIR] appctl COMMAND [ARG...]
Ask the running daemon, like ovs-appctl.

Commands:
  fdb/show BRIDGE               the MAC addresses NORMAL learned: port, VLAN, MAC, age (s)
  fdb/flush [BRIDGE]            forget them (every bridge's without BRIDGE)
  ofproto/trace BRIDGE FLOW     what the tables would do with the packet FLOW describes
  list-commands                 this list
";

/// `(command, minimum, maximum arguments)`.
const COMMANDS: &[(&str, usize, usize)] = &[
    ("fdb/show", 1, 1),
    ("fdb/flush", 0, 1),
    ("ofproto/trace", 2, 2),
];

/// Runs one invocation; `args` are the words after the subcommand.
pub fn main(state_dir: &Path, args: Vec<String>) -> ExitCode {
    let Some(command) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(1);
    };
    if matches!(command.as_str(), "help" | "--help" | "-h" | "list-commands") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let Some(&(_, min, max)) = COMMANDS.iter().find(|c| c.0 == command) else {
        eprintln!("{PREFIX}: \"{command}\" is not a valid command (use list-commands)");
        return ExitCode::from(2);
    };
    let n = args.len() - 1;
    if n < min || n > max {
        let usage = USAGE
            .lines()
            .find(|l| l.trim_start().starts_with(command.as_str()))
            .map(|l| l.trim().split("  ").next().unwrap_or(command).to_string())
            .unwrap_or_else(|| command.clone());
        eprintln!("{PREFIX}: wrong number of arguments; usage: ofswitch appctl {usage}");
        return ExitCode::from(2);
    }
    // The daemon knows `trace` by its ofctl name.
    let mut argv = args.clone();
    if command == "ofproto/trace" {
        argv[0] = "trace".into();
    }
    match protocol::request(state_dir, argv) {
        Ok(resp) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(resp.output.as_bytes());
            let _ = out.flush();
            if let Some(e) = &resp.error {
                eprintln!("{PREFIX}: {e}");
            }
            if resp.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprintln!("{PREFIX}: {e}");
            ExitCode::from(1)
        }
    }
}
