//! `ofcontroller`: a minimal, fast OpenFlow 1.3 controller.
//!
//! The decisions live in the library (`ofcontroller::policy`, `pipeline`,
//! `learning`, `session`), the networking in `ofcontroller::net`; this
//! binary parses the command line, loads the policy and handles signals.
//!
//! - `ofcontroller check FILE`: validate a policy file.
//! - `ofcontroller run [--listen TARGET]... [--connect TARGET]...
//!   [--policy FILE] [--private-key FILE --certificate FILE --ca-cert FILE]
//!   [--control PATH]`: run the bundled learning + VLANs app. A TARGET is
//!   `tcp:IP:PORT`, `ssl:IP:PORT` or `unix:PATH`; `ssl:` needs the three PEM
//!   files (Open vSwitch's mutual authentication: the switch's certificate
//!   must be signed by the CA, see `ofcontroller::net`). SIGHUP re-reads the
//!   policy file; a bad file is refused with one log line and the running
//!   policy kept, so a typo never takes the network down. `--control PATH`
//!   is the socket the two commands below ask.
//! - `ofcontroller status [--control PATH] [--json]`: the switches, their
//!   ports, VLANs and learned MACs.
//! - `ofcontroller reload [--control PATH]`: re-read the policy file, as
//!   SIGHUP does; exit 1 if it is refused.

use clap::{Parser, Subcommand};
use ofcontroller::app::Broadcast;
use ofcontroller::control::{self, Reply, Request};
use ofcontroller::learning::Timeouts;
use ofcontroller::net::{self, Shared, Target, TlsIdentity, TLS_NEEDS_FILES};
use ofcontroller::policy::Policy;
use ofcontroller::vlans::VlanApp;
use openflow::channel::ChannelConfig;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

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
    /// Run the controller: learning and VLAN isolation for every switch
    /// that connects (or that it connects to).
    Run {
        /// Accept switches on this address (a bridge's `tcp:`, `ssl:` or
        /// `unix:` controller target); may be repeated. `ssl:` requires a
        /// client certificate signed by --ca-cert.
        #[arg(long, value_name = "tcp:IP:PORT|ssl:IP:PORT|unix:PATH")]
        listen: Vec<Target>,
        /// Connect to a switch listening here (a bridge's `ptcp:`, `pssl:`
        /// or `punix:` target, e.g. its BR.mgmt socket), reconnecting with
        /// back-off; may be repeated. `ssl:` checks the switch's
        /// certificate against --ca-cert (not its host name).
        #[arg(long, value_name = "tcp:IP:PORT|ssl:IP:PORT|unix:PATH")]
        connect: Vec<Target>,
        /// The policy (TOML, or Faucet .yaml); re-read on SIGHUP and on
        /// `ofcontroller reload`. Without one: learning only, every port an
        /// access port of VLAN 1.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        #[command(flatten)]
        control: ControlPath,
        #[command(flatten)]
        tls: TlsArgs,
        /// Worker threads serving the switches [default: one per core].
        /// Fewer leave cores to other work on the machine (a load
        /// generator, a switch daemon) and spare the controller's threads
        /// from waiting for a time slice.
        #[arg(long, value_name = "N")]
        threads: Option<std::num::NonZeroUsize>,
    },
    /// Show the connected switches, their ports, VLANs and learned MACs
    /// (port, VLAN, MAC, age in seconds).
    Status {
        #[command(flatten)]
        control: ControlPath,
        /// The status as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Make the running controller re-read its policy file, as SIGHUP does;
    /// a refused file is one line on stderr and exit status 1 (the running
    /// policy is kept).
    Reload {
        #[command(flatten)]
        control: ControlPath,
    },
}

#[derive(clap::Args)]
struct ControlPath {
    /// The control socket (`ofcontroller run` listens on it; `status` and
    /// `reload` ask it) [default: /run/ofcontroller.ctl]
    #[arg(long = "control", value_name = "PATH")]
    path: Option<PathBuf>,
}

impl ControlPath {
    fn get(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| PathBuf::from(control::DEFAULT_PATH))
    }
}

/// The controller's TLS identity for `ssl:` targets (PEM files, read again
/// at every connection, so a replaced certificate is used from the next
/// one on).
#[derive(clap::Args)]
struct TlsArgs {
    /// Our private key, for `ssl:` targets.
    #[arg(long, value_name = "FILE")]
    private_key: Option<PathBuf>,
    /// Our certificate, presented to switches on `ssl:` targets.
    #[arg(long, value_name = "FILE")]
    certificate: Option<PathBuf>,
    /// The CA certificate that switches' certificates must be signed by.
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
}

impl TlsArgs {
    /// The identity if all three files are given, None if none is, and an
    /// error if only some are.
    fn identity(self) -> Result<Option<Arc<TlsIdentity>>, &'static str> {
        match (self.private_key, self.certificate, self.ca_cert) {
            (Some(private_key), Some(certificate), Some(ca_cert)) => {
                Ok(Some(Arc::new(TlsIdentity {
                    private_key,
                    certificate,
                    ca_cert,
                })))
            }
            (None, None, None) => Ok(None),
            _ => Err(TLS_NEEDS_FILES),
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check { file } => check(&file),
        Command::Run {
            listen,
            connect,
            policy,
            control,
            tls,
            threads,
        } => run(listen, connect, policy, control, tls, threads),
        Command::Status { control, json } => ask("status", &control.get(), Request::Status, json),
        Command::Reload { control } => ask("reload", &control.get(), Request::Reload, false),
    }
}

/// `ofcontroller status|reload`: one request to the running controller.
fn ask(verb: &str, path: &Path, req: Request, json: bool) -> ExitCode {
    match control::request(path, req).and_then(|r| control::outcome(r, json)) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ofcontroller {verb}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads and validates a policy file; the error is one line
/// `FILE:LINE: key: what`.
fn load_policy(file: &Path) -> Result<Policy, String> {
    let name = file.display();
    let text = std::fs::read_to_string(file).map_err(|e| format!("{name}: {e}"))?;
    let yaml = matches!(
        file.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    let parsed = if yaml {
        ofcontroller::faucet::parse(&text)
    } else {
        Policy::parse(&text)
    };
    parsed.map_err(|e| match e.line {
        Some(l) => format!("{name}:{l}: {}", PolicyErrorRest(&e)),
        None => format!("{name}: {e}"),
    })
}

fn check(file: &Path) -> ExitCode {
    match load_policy(file) {
        Ok(p) => {
            let ports: usize = p.switches.iter().map(|s| s.ports.len()).sum();
            println!(
                "{}: ok: {} VLANs, {} switches, {ports} ports",
                file.display(),
                p.vlans.len(),
                p.switches.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    listen: Vec<Target>,
    connect: Vec<Target>,
    policy_file: Option<PathBuf>,
    control: ControlPath,
    tls: TlsArgs,
    threads: Option<std::num::NonZeroUsize>,
) -> ExitCode {
    init_logging();
    if listen.is_empty() && connect.is_empty() {
        eprintln!("ofcontroller run: give at least one --listen or --connect");
        return ExitCode::from(2);
    }
    let tls = match tls.identity() {
        Ok(None) if listen.iter().chain(&connect).any(Target::is_ssl) => Err(TLS_NEEDS_FILES),
        t => t,
    };
    let tls = match tls {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ofcontroller run: {e}");
            return ExitCode::from(2);
        }
    };
    let policy = match &policy_file {
        Some(f) => match load_policy(f) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        },
        None => Policy::learning_only(),
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        rt.worker_threads(n.get());
    }
    let rt = match rt.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ofcontroller: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(serve(listen, connect, tls, policy, policy_file, control))
}

/// The running controller, as signals and the control socket see it.
struct Running {
    app: Arc<VlanApp>,
    shared: Arc<Shared<VlanApp>>,
    policy_file: Option<PathBuf>,
}

impl Running {
    /// Re-reads the policy file (SIGHUP, `ofcontroller reload`): each
    /// switch then gets only the flows the change concerns. A bad file is
    /// refused and the running policy kept. One log line either way; `via`
    /// says what asked.
    fn reload(&self, via: &str) -> Result<String, String> {
        let Some(f) = &self.policy_file else {
            tracing::info!("{via}: no policy file, nothing to reload");
            return Err("no policy file to reload (started without --policy)".into());
        };
        match load_policy(f) {
            Ok(p) => {
                self.app.set_policy(p);
                self.shared.broadcast(Broadcast::Reconfigured);
                tracing::info!("{via}: policy {} reloaded", f.display());
                Ok(f.display().to_string())
            }
            Err(e) => {
                tracing::error!("{via}: policy refused, keeping the running one: {e}");
                Err(e)
            }
        }
    }
}

impl control::Handler for Running {
    fn handle(&self, req: Request) -> Reply {
        match req {
            Request::Status => Reply::Status(self.app.status()),
            Request::Reload => match self.reload("control socket") {
                Ok(file) => Reply::Reloaded { file },
                Err(error) => Reply::Refused { error },
            },
        }
    }
}

async fn serve(
    listen: Vec<Target>,
    connect: Vec<Target>,
    tls: Option<Arc<TlsIdentity>>,
    policy: Policy,
    policy_file: Option<PathBuf>,
    control: ControlPath,
) -> ExitCode {
    use tokio::signal::unix::{signal, SignalKind};
    let app = Arc::new(VlanApp::new(policy, Timeouts::default()));
    let shared = Shared::new(app.clone(), ChannelConfig::default());
    let running = Arc::new(Running {
        app,
        shared: shared.clone(),
        policy_file,
    });
    // Signals first, so that a SIGHUP right after start is not fatal.
    let (mut hup, mut term, mut int) = match (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(h), Ok(t), Ok(i)) => (h, t, i),
        _ => {
            eprintln!("ofcontroller: cannot install signal handlers");
            return ExitCode::FAILURE;
        }
    };
    // Before listening, so that a second controller on the same socket
    // stops here. The file is removed when `_socket_file` drops, at exit.
    // Only the default path may be out of reach (not root): then the
    // controller runs without one.
    let path = control.get();
    let _socket_file = match control::bind(&path) {
        Ok((listener, file)) => {
            tracing::info!("control socket {}", path.display());
            tokio::spawn(control::serve(listener, running.clone()));
            Some(file)
        }
        Err(control::BindError::Other(e)) if control.path.is_none() => {
            tracing::warn!("no control socket (give --control PATH): {e}");
            None
        }
        Err(e) => {
            eprintln!("ofcontroller: {e}");
            return ExitCode::FAILURE;
        }
    };
    for t in listen {
        match net::bind(&t, tls.as_ref()).await {
            Ok(l) => {
                tracing::info!("listening on {t}");
                tokio::spawn(net::accept(shared.clone(), l));
            }
            Err(e) => {
                eprintln!("ofcontroller: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    for t in connect {
        tracing::info!("connecting to {t}");
        tokio::spawn(net::connect(shared.clone(), t, tls.clone()));
    }
    loop {
        tokio::select! {
            _ = hup.recv() => {
                // Logged either way; nobody to answer.
                let _ = running.reload("SIGHUP");
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("stopping");
    ExitCode::SUCCESS
}

/// Logs to stderr, level from RUST_LOG (default `info`); colours only on a
/// terminal, so a log file stays plain text.
fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
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
