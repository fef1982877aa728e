//! `ofswitch daemon`: start-up, the management socket, shutdown.
//!
//! The main task owns the configuration. Management requests (JSON lines
//! on `<state_dir>/ofswitch.ctl`, see [`crate::config::protocol`]) are
//! executed against a copy; a change is saved atomically first and then
//! applied: new bridges are started, removed ones stopped, the others
//! reconfigured. Each bridge runs in its own task ([`super::bridge`]).

use super::bridge::{self, BridgeCmd, BridgeHandle, BridgeSettings};
use super::channel::bind_unix;
use super::process::{self, Pidfile, ReadyPipe};
use super::tls::SslSource;
use crate::config::model::Config;
use crate::config::protocol::{self, Request, Response};
use crate::config::runtime::{ControllerStatus, InterfaceStatus, RuntimeInfo};
use crate::config::{store, vsctl};
use crate::datapath::forward::Clock;
use crate::datapath::port::PortRegistry;
use crate::datapath::workers::ForwardingThreads;
use clap::Parser;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};

#[derive(Parser, Debug)]
#[command(name = "ofswitch daemon", about = "Run the switch")]
struct Args {
    /// Run in the background once started.
    #[arg(long)]
    detach: bool,
    /// Pid file (default: STATE_DIR/ofswitch.pid).
    #[arg(long)]
    pidfile: Option<PathBuf>,
    /// Log to this file instead of stderr (level from RUST_LOG, default info).
    #[arg(long)]
    log_file: Option<PathBuf>,
    /// Inactivity probe interval for controller connections, in seconds;
    /// standalone bridges fail open after three of them without a
    /// controller.
    #[arg(long, default_value_t = 5.0)]
    probe_interval: f64,
    /// Forwarding threads: dedicated threads that receive from every
    /// port and run the frames through the pipeline (ports are spread
    /// over them).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    forwarding_threads: u16,
    /// Microseconds a forwarding thread keeps polling its ports after a
    /// frame before it sleeps (0: sleep at once). Trades a spinning core
    /// for fewer wakeups under steady traffic.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    busy_poll_us: u32,
}

/// Runs the daemon; returns when it stops (SIGTERM, SIGINT).
pub fn main(state_dir: &Path, args: Vec<String>) -> ExitCode {
    let argv = std::iter::once("ofswitch daemon".to_string()).chain(args);
    let args = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            // --help, --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line naming the problem, like every other CLI error
            // (clap's own text adds a usage block).
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("ofswitch daemon: {first}; use --help for help");
            return ExitCode::FAILURE;
        }
    };
    if !(0.1..=3600.0).contains(&args.probe_interval) {
        eprintln!("ofswitch daemon: --probe-interval must be between 0.1 and 3600 seconds");
        return ExitCode::FAILURE;
    }
    if let Err(e) = std::fs::create_dir_all(state_dir) {
        eprintln!(
            "ofswitch daemon: cannot create {}: {e}",
            state_dir.display()
        );
        return ExitCode::FAILURE;
    }
    let mut ready = if args.detach {
        match process::detach() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("ofswitch daemon: cannot detach: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        ReadyPipe::none()
    };
    let log_file = args
        .log_file
        .clone()
        .or_else(|| args.detach.then(|| state_dir.join("ofswitch.log")));
    if let Err(e) = process::init_logging(log_file.as_deref()) {
        ready.failed(&e.to_string());
        eprintln!("ofswitch daemon: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            ready.failed(&e.to_string());
            eprintln!("ofswitch daemon: {e}");
            return ExitCode::FAILURE;
        }
    };
    let settings = BridgeSettings {
        state_dir: state_dir.to_path_buf(),
        probe_interval: Duration::from_secs_f64(args.probe_interval),
        ssl: SslSource::default(),
    };
    let pidfile = args
        .pidfile
        .clone()
        .unwrap_or_else(|| state_dir.join("ofswitch.pid"));
    let threads = match ForwardingThreads::start(
        usize::from(args.forwarding_threads),
        Duration::from_micros(u64::from(args.busy_poll_us)),
    ) {
        Ok(t) => t,
        Err(e) => {
            ready.failed(&e.to_string());
            eprintln!("ofswitch daemon: cannot start the forwarding threads: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(settings, threads, &pidfile, &mut ready)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            ready.failed(&e);
            tracing::error!("{e}");
            eprintln!("ofswitch daemon: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A management request waiting for the main task.
struct MgmtRequest {
    req: Request,
    reply: oneshot::Sender<Response>,
}

/// The running daemon's view for `show` and `list interface`.
struct Runtime<'a> {
    bridges: &'a BTreeMap<String, BridgeHandle>,
}

impl RuntimeInfo for Runtime<'_> {
    fn interface(&self, bridge: &str, iface: &str) -> Option<InterfaceStatus> {
        self.bridges.get(bridge)?.interface(iface)
    }

    fn controller(&self, bridge: &str, target: &str) -> Option<ControllerStatus> {
        self.bridges.get(bridge)?.controller(target)
    }

    fn bridge_statistics(&self, bridge: &str) -> Option<BTreeMap<String, u64>> {
        Some(self.bridges.get(bridge)?.statistics())
    }

    fn bridge_status(&self, bridge: &str) -> Option<BTreeMap<String, String>> {
        self.bridges.get(bridge)?.bridge_status()
    }

    fn port_status(&self, bridge: &str, port: &str) -> Option<BTreeMap<String, String>> {
        self.bridges.get(bridge)?.port_status(port)
    }
}

async fn serve(
    settings: BridgeSettings,
    threads: ForwardingThreads,
    pidfile: &Path,
    ready: &mut ReadyPipe,
) -> Result<(), String> {
    let state_dir = settings.state_dir.clone();
    let _pid = Pidfile::create(pidfile).map_err(|e| e.to_string())?;
    let mut config = store::load(&state_dir).map_err(|e| e.to_string())?;
    settings.ssl.set(config.ssl.clone());
    let ctl_path = protocol::socket_path(&state_dir);
    let listener = bind_unix(&ctl_path).map_err(|e| format!("{}: {e}", ctl_path.display()))?;
    let clock = Clock::default();
    let patches = Arc::new(PortRegistry::new(threads));
    let mut bridges: BTreeMap<String, BridgeHandle> = BTreeMap::new();
    for b in config.bridges.values() {
        match bridge::spawn(b.clone(), settings.clone(), patches.clone(), clock) {
            Ok(h) => {
                bridges.insert(b.name.clone(), h);
            }
            Err(e) => tracing::error!("bridge {}: {e}", b.name),
        }
    }
    let (mgmt_tx, mut mgmt_rx) = mpsc::channel::<MgmtRequest>(16);
    let accept = tokio::spawn(async move {
        let accept_failed = crate::log_limit::LogLimiter::default();
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(handle_client(stream, mgmt_tx.clone()));
                }
                Err(e) => {
                    if let Some(suppressed) = accept_failed.allow() {
                        tracing::warn!("management socket: {e}{suppressed}");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    tracing::info!(
        "ofswitch {} running: {} bridge(s), state in {}",
        env!("CARGO_PKG_VERSION"),
        bridges.len(),
        state_dir.display()
    );
    ready.ready();

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            Some(m) = mgmt_rx.recv() => {
                let resp = execute(&state_dir, &mut config, &mut bridges, &settings, &patches, clock, m.req).await;
                let _ = m.reply.send(resp);
            }
        }
    }
    tracing::info!("stopping");
    accept.abort();
    for (_, h) in std::mem::take(&mut bridges) {
        stop_bridge(h).await;
    }
    let _ = std::fs::remove_file(&ctl_path);
    Ok(())
}

async fn stop_bridge(h: BridgeHandle) {
    let (tx, rx) = oneshot::channel();
    if h.cmd.send(BridgeCmd::Shutdown(tx)).await.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
    }
    h.task.abort();
}

/// Runs one vsctl request; on a change, saves then applies it.
async fn execute(
    state_dir: &Path,
    config: &mut Config,
    bridges: &mut BTreeMap<String, BridgeHandle>,
    settings: &BridgeSettings,
    patches: &Arc<PortRegistry>,
    clock: Clock,
    req: Request,
) -> Response {
    match req.argv.first().map(String::as_str) {
        Some("trace") => return trace(bridges, &req.argv[1..]).await,
        Some(cmd @ ("fdb/show" | "fdb/flush")) => {
            return fdb(bridges, cmd == "fdb/flush", &req.argv[1..]).await
        }
        _ => {}
    }
    let mut next = config.clone();
    let result = {
        let rt = Runtime { bridges };
        vsctl::execute_with_format(&mut next, &req.argv, req.format, &rt)
    };
    let mut warnings = Vec::new();
    if let Ok(out) = &result {
        if out.changed {
            if let Err(e) = store::save(state_dir, &next) {
                return Response::error(e.to_string());
            }
            *config = next;
            let before = interface_errors(bridges);
            apply(config, bridges, settings, patches, clock).await;
            warnings = new_interface_errors(&before, &interface_errors(bridges));
        }
    }
    Response {
        warnings,
        ..Response::from_result(&result)
    }
}

/// Every interface that could not be set up, with why, by bridge and
/// interface name.
fn interface_errors(
    bridges: &BTreeMap<String, BridgeHandle>,
) -> BTreeMap<(String, String), String> {
    bridges
        .iter()
        .flat_map(|(br, h)| {
            h.interface_errors()
                .into_iter()
                .map(move |(iface, e)| ((br.clone(), iface), e))
        })
        .collect()
}

/// What a change made fail, as ovs-vsctl reports it after a transaction
/// (the command still succeeds: the configuration is stored, and the
/// interface is set up when it can be, e.g. when the device appears).
fn new_interface_errors(
    before: &BTreeMap<(String, String), String>,
    after: &BTreeMap<(String, String), String>,
) -> Vec<String> {
    after
        .iter()
        .filter(|(k, e)| before.get(*k) != Some(*e))
        .map(|((_, iface), e)| {
            format!(
                "Error detected while setting up '{iface}': {e}. See `ofswitch vsctl show` and the daemon's log."
            )
        })
        .collect()
}

/// `trace BRIDGE FLOW`, answered by the bridge's task.
async fn trace(bridges: &BTreeMap<String, BridgeHandle>, args: &[String]) -> Response {
    let [br, flow] = args else {
        return Response::error("usage: trace BRIDGE FLOW");
    };
    let Some(h) = bridges.get(br) else {
        return Response::error(format!("no bridge named {br}"));
    };
    let (tx, rx) = oneshot::channel();
    if h.cmd
        .send(BridgeCmd::Trace(flow.clone(), tx))
        .await
        .is_err()
    {
        return Response::error(format!("bridge {br} is stopping"));
    }
    match rx.await {
        Ok(Ok(text)) => Response::output(text),
        Ok(Err(e)) => Response::error(e),
        Err(_) => Response::error(format!("bridge {br} is stopping")),
    }
}

/// `fdb/show BRIDGE` or `fdb/flush [BRIDGE]` (every bridge without one),
/// answered by the bridges' tasks.
async fn fdb(bridges: &BTreeMap<String, BridgeHandle>, flush: bool, args: &[String]) -> Response {
    let targets: Vec<(&String, &BridgeHandle)> = match args {
        [br] => match bridges.get_key_value(br) {
            Some(t) => vec![t],
            None => return Response::error(format!("no such bridge ({br})")),
        },
        [] if flush => bridges.iter().collect(),
        _ => return Response::error("usage: fdb/show BRIDGE | fdb/flush [BRIDGE]"),
    };
    let mut output = String::new();
    for (br, h) in targets {
        let (tx, rx) = oneshot::channel();
        if h.cmd.send(BridgeCmd::Fdb(flush, tx)).await.is_err() {
            return Response::error(format!("bridge {br} is stopping"));
        }
        match rx.await {
            Ok(text) => output.push_str(&text),
            Err(_) => return Response::error(format!("bridge {br} is stopping")),
        }
    }
    if flush {
        output.push_str("table successfully flushed\n");
    }
    Response::output(output)
}

/// Starts, stops and reconfigures bridges to match `config`.
async fn apply(
    config: &Config,
    bridges: &mut BTreeMap<String, BridgeHandle>,
    settings: &BridgeSettings,
    patches: &Arc<PortRegistry>,
    clock: Clock,
) {
    // Channel tasks read the SSL settings when they connect.
    settings.ssl.set(config.ssl.clone());
    let gone: Vec<String> = bridges
        .keys()
        .filter(|n| !config.bridges.contains_key(*n))
        .cloned()
        .collect();
    for n in gone {
        if let Some(h) = bridges.remove(&n) {
            stop_bridge(h).await;
        }
    }
    let mut applied = Vec::new();
    for b in config.bridges.values() {
        match bridges.get(&b.name) {
            Some(h) => {
                let (done, rx) = oneshot::channel();
                let cmd = BridgeCmd::Reconfigure(Box::new(b.clone()), Some(done));
                if h.cmd.send(cmd).await.is_ok() {
                    applied.push(rx);
                }
            }
            None => match bridge::spawn(b.clone(), settings.clone(), patches.clone(), clock) {
                Ok(h) => {
                    bridges.insert(b.name.clone(), h);
                }
                Err(e) => tracing::error!("bridge {}: {e}", b.name),
            },
        }
    }
    // Answer when every bridge has applied its part (bounded: a bridge
    // stuck elsewhere must not hang the management socket).
    for rx in applied {
        if tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .is_err()
        {
            tracing::warn!("a bridge took more than 10 s to apply a configuration change");
        }
    }
}

/// One management client: a JSON request line in, a JSON response out.
async fn handle_client(stream: UnixStream, tx: mpsc::Sender<MgmtRequest>) {
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let resp = match serde_json::from_str::<Request>(&line) {
            Ok(req) => {
                let (reply, rx) = oneshot::channel();
                if tx.send(MgmtRequest { req, reply }).await.is_err() {
                    Response::error("the daemon is stopping")
                } else {
                    rx.await
                        .unwrap_or_else(|_| Response::error("the daemon is stopping"))
                }
            }
            Err(e) => Response::error(format!("bad management request: {e}")),
        };
        let mut text = serde_json::to_string(&resp).unwrap_or_else(|_| {
            r#"{"ok":false,"output":"","error":"cannot encode the response","exit_code":1}"#
                .to_string()
        });
        text.push('\n');
        if wr.write_all(text.as_bytes()).await.is_err() {
            break;
        }
    }
}
