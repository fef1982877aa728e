//! `ofcontroller`: a minimal, fast OpenFlow 1.3 controller.
//!
//! The decisions live in the library (`ofcontroller::policy`, `pipeline`,
//! `learning`); this binary will only move messages. For now it validates
//! policy files.

use clap::{Parser, Subcommand};
use ofcontroller::policy::Policy;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ofcontroller",
    version,
    about = "OpenFlow 1.3 controller: L2 learning and VLAN isolation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a policy file; on error print one line `FILE:LINE: key: what` and exit 1.
    Check {
        /// The TOML policy (see examples/policy.toml), or a Faucet
        /// faucet.yaml (.yaml/.yml: the vlans/dps/interfaces subset).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check { file } => check(&file),
    }
}

fn check(file: &std::path::Path) -> ExitCode {
    let name = file.display();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let yaml = matches!(
        file.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    let parsed = if yaml {
        ofcontroller::faucet::parse(&text)
    } else {
        Policy::parse(&text)
    };
    match parsed {
        Ok(p) => {
            let ports: usize = p.switches.iter().map(|s| s.ports.len()).sum();
            println!(
                "{name}: ok: {} VLANs, {} switches, {ports} ports",
                p.vlans.len(),
                p.switches.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            match e.line {
                Some(l) => {
                    let rest = PolicyErrorRest(&e);
                    eprintln!("{name}:{l}: {rest}");
                }
                None => eprintln!("{name}: {e}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// The error without its `line N: ` prefix (the file position carries it).
struct PolicyErrorRest<'a>(&'a ofcontroller::policy::PolicyError);

impl std::fmt::Display for PolicyErrorRest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = ofcontroller::policy::PolicyError {
            line: None,
            ..self.0.clone()
        };
        write!(f, "{e}")
    }
}
