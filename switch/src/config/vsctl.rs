//! The ovs-vsctl verbs as a pure function over the model:
//! [`execute`] takes the configuration and a command line, and either
//! changes the configuration and returns the output, or returns a one-line
//! error and leaves the configuration untouched. The daemon runs it for
//! each management request; tests run it directly.
//!
//! Syntax is ovs-vsctl's: global options first (`--format=json`,
//! `--timeout=N`, `--dry-run`), then commands separated by `--`, each with
//! its own options (`--may-exist`, `--if-exists`, `--columns=`). All the
//! commands of a line form one transaction: they run in order on a copy,
//! ports get their numbers ([`Config::assign_ofports`]), the result is
//! validated, and only then does it replace the configuration.
//!
//! The `Controller` table has the columns the switch implements
//! (`controller_rate_limit`, `controller_burst_limit`, and the read-only
//! `target`, `is_connected`, `role`, `status`); its records are named by
//! bridge as in ovs-vsctl (`set controller br0 controller_rate_limit=1000`)
//! or by target.
//!
//! Extensions over ovs-vsctl: `add-port` also accepts Interface columns
//! (`add-port br0 vx1 type=vxlan options:remote_ip=10.0.0.2`); `show`
//! prints each interface's `ofport`; `add-netns-port` records an
//! ovs-docker-like attachment of a network namespace (in the port's
//! `external_ids`) and `del-netns-port` removes it. `set-ssl`, `get-ssl`
//! and `del-ssl` edit the one TLS identity of the switch (OVS's SSL table,
//! `Config::ssl`); `show` prints it in an `ssl` section.

mod db;
mod show;

use crate::config::model::{
    check_mtu, format_mac, parse_mac, validate_name, Bridge, Config, ConfigError, InterfaceType,
    Port, SslConfig,
};
use crate::config::runtime::RuntimeInfo;
use crate::config::syntax::parse_column_arg;
use db::{Rec, Table};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use std::net::IpAddr;

/// Output format of listing commands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// ovs-vsctl's text.
    #[default]
    Text,
    /// JSON documents (pretty-printed), for scripts.
    Json,
}

/// What a successful command line produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VsctlOutput {
    /// What to print on stdout.
    pub output: String,
    /// 0, or 2 when `br-exists` found no bridge (as ovs-vsctl).
    pub exit_code: i32,
    /// Whether the configuration changed (the daemon then persists and
    /// applies it).
    pub changed: bool,
}

/// A refused command line: one line naming the problem, without the
/// `ofswitch vsctl: ` prefix the CLI adds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct VsctlError {
    pub message: String,
}

impl From<String> for VsctlError {
    fn from(message: String) -> VsctlError {
        VsctlError { message }
    }
}

impl From<ConfigError> for VsctlError {
    fn from(e: ConfigError) -> VsctlError {
        VsctlError { message: e.0 }
    }
}

type Res<T = ()> = Result<T, VsctlError>;

fn fail<T>(msg: impl Into<String>) -> Res<T> {
    Err(VsctlError {
        message: msg.into(),
    })
}

/// Runs one command line (the words after `ofswitch vsctl`) against
/// `config`: all of it or nothing.
pub fn execute(
    config: &mut Config,
    argv: &[String],
    runtime: &dyn RuntimeInfo,
) -> Res<VsctlOutput> {
    execute_with_format(config, argv, Format::Text, runtime)
}

/// [`execute`] with a default output format (the management request's
/// `format`); a `--format` option in `argv` wins.
pub fn execute_with_format(
    config: &mut Config,
    argv: &[String],
    format: Format,
    runtime: &dyn RuntimeInfo,
) -> Res<VsctlOutput> {
    let (globals, commands) = parse_argv(argv, format)?;
    let mut ctx = Ctx {
        cfg: config.clone(),
        rt: runtime,
        format: globals.format,
        text: globals.text,
        out: String::new(),
        exit_code: 0,
    };
    for cmd in &commands {
        run(&mut ctx, cmd)?;
    }
    ctx.cfg.assign_ofports()?;
    ctx.cfg.validate()?;
    let changed = ctx.cfg != *config;
    if changed && !globals.dry_run {
        *config = ctx.cfg;
    }
    Ok(VsctlOutput {
        output: ctx.out,
        exit_code: ctx.exit_code,
        changed: changed && !globals.dry_run,
    })
}

/// Options that apply to the whole command line.
#[derive(Debug)]
struct Globals {
    format: Format,
    text: TextStyle,
    dry_run: bool,
}

/// How `list` and `find` lay out records in text, and how values print
/// there and in `get`: ovs-vsctl's `--format=list|table`, `--bare`,
/// `--data=bare`, `--no-headings`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct TextStyle {
    /// `--format=table`: a column per field under a heading.
    table: bool,
    /// `--data=bare` (or `--bare`): strings unquoted, sets and maps as
    /// space-separated items, an empty optional value empty.
    bare_data: bool,
    /// `--no-headings` (or `--bare`): no column names.
    no_headings: bool,
}

impl TextStyle {
    fn value(&self, v: &db::Val) -> String {
        if self.bare_data {
            v.bare()
        } else {
            v.text()
        }
    }
}

/// One command with its options (`--may-exist`, `--columns=...`).
#[derive(Debug)]
struct Command {
    name: String,
    opts: Vec<String>,
    args: Vec<String>,
}

impl Command {
    fn has(&self, opt: &str) -> bool {
        self.opts.iter().any(|o| o == opt)
    }

    fn opt_value(&self, opt: &str) -> Option<&str> {
        self.opts
            .iter()
            .find_map(|o| o.strip_prefix(opt)?.strip_prefix('='))
    }
}

/// `--format=F`: the format, and whether text is a table.
fn parse_format(s: &str) -> Res<(Format, bool)> {
    match s {
        "json" => Ok((Format::Json, false)),
        "text" | "list" => Ok((Format::Text, false)),
        "table" => Ok((Format::Text, true)),
        _ => fail(format!(
            "unknown output format \"{s}\" (use list, table or json)"
        )),
    }
}

/// `--data=D`: whether values print bare.
fn parse_data(s: &str) -> Res<bool> {
    match s {
        "bare" => Ok(true),
        "string" => Ok(false),
        _ => fail(format!("unknown data format \"{s}\" (use string or bare)")),
    }
}

fn parse_argv(argv: &[String], format: Format) -> Res<(Globals, Vec<Command>)> {
    let mut globals = Globals {
        format,
        text: TextStyle::default(),
        dry_run: false,
    };
    let set_format = |globals: &mut Globals, v: &str| -> Res {
        let (f, table) = parse_format(v)?;
        globals.format = f;
        globals.text.table = table;
        Ok(())
    };
    let mut commands = Vec::new();
    for seg in argv.split(|a| a == "--") {
        let mut opts = Vec::new();
        let mut i = 0;
        while let Some(word) = seg.get(i).filter(|w| w.starts_with('-') && w.len() > 1) {
            let next = seg.get(i + 1);
            i += 1;
            if !commands.is_empty() {
                opts.push(word.clone());
                continue;
            }
            match word.as_str() {
                "-f" | "--format" => {
                    let v = next.ok_or_else(|| format!("option '{word}' requires an argument"))?;
                    set_format(&mut globals, v)?;
                    i += 1;
                }
                "-d" | "--data" => {
                    let v = next.ok_or_else(|| format!("option '{word}' requires an argument"))?;
                    globals.text.bare_data = parse_data(v)?;
                    i += 1;
                }
                "--bare" => {
                    set_format(&mut globals, "list")?;
                    globals.text.bare_data = true;
                    globals.text.no_headings = true;
                }
                "--no-headings" | "--no-heading" => globals.text.no_headings = true,
                w if w.starts_with("--data=") => globals.text.bare_data = parse_data(&w[7..])?,
                "-t" | "--timeout" => {
                    next.ok_or_else(|| format!("option '{word}' requires an argument"))?;
                    i += 1;
                }
                "--no-wait" | "--pretty" | "--no-syslog" => {}
                "--dry-run" => globals.dry_run = true,
                w if w.starts_with("--format=") => set_format(&mut globals, &w[9..])?,
                w if w.starts_with("-f") => set_format(&mut globals, &w[2..])?,
                w if w.starts_with("--timeout=") => {}
                _ => opts.push(word.clone()),
            }
        }
        match seg.get(i) {
            Some(name) => commands.push(Command {
                name: name.clone(),
                opts,
                args: seg[i + 1..].to_vec(),
            }),
            None if opts.is_empty() => {}
            None => return fail(format!("missing command name after {}", opts.join(" "))),
        }
    }
    if commands.is_empty() {
        return fail("missing command name (use --help for help)");
    }
    Ok((globals, commands))
}

struct Ctx<'a> {
    cfg: Config,
    rt: &'a dyn RuntimeInfo,
    format: Format,
    text: TextStyle,
    out: String,
    exit_code: i32,
}

impl Ctx<'_> {
    fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn json(&mut self, v: &Json) {
        let s = serde_json::to_string_pretty(v).unwrap_or_default();
        self.line(&s);
    }

    /// Prints a list of names, one a line or as a JSON array.
    fn names(&mut self, names: Vec<String>) {
        match self.format {
            Format::Json => self.json(&json!(names)),
            Format::Text => names.iter().for_each(|n| self.line(n)),
        }
    }

    fn bridge(&self, name: &str) -> Res<&Bridge> {
        self.cfg
            .bridges
            .get(name)
            .ok_or_else(|| format!("no bridge named {name}").into())
    }

    fn bridge_mut(&mut self, name: &str) -> Res<&mut Bridge> {
        self.cfg
            .bridges
            .get_mut(name)
            .ok_or_else(|| format!("no bridge named {name}").into())
    }
}

type Verb = fn(&mut Ctx, &Command) -> Res;

/// name, minimum and maximum argument counts, options, implementation.
const COMMANDS: &[(&str, usize, usize, &[&str], Verb)] = &[
    ("init", 0, 0, &[], |_, _| Ok(())),
    ("show", 0, 0, &[], cmd_show),
    ("add-br", 1, 3, &["--may-exist"], cmd_add_br),
    ("del-br", 1, 1, &["--if-exists"], cmd_del_br),
    ("list-br", 0, 0, &["--real", "--fake"], cmd_list_br),
    ("br-set-external-id", 2, 3, &[], cmd_br_set_external_id),
    ("br-get-external-id", 1, 2, &[], cmd_br_get_external_id),
    ("br-exists", 1, 1, &[], cmd_br_exists),
    ("add-port", 2, usize::MAX, &["--may-exist"], cmd_add_port),
    (
        "del-port",
        1,
        2,
        &["--if-exists", "--with-iface"],
        cmd_del_port,
    ),
    ("list-ports", 1, 1, &[], cmd_list_ports),
    ("list-ifaces", 1, 1, &[], cmd_list_ports),
    ("port-to-br", 1, 1, &[], cmd_port_to_br),
    ("iface-to-br", 1, 1, &[], cmd_port_to_br),
    (
        "add-netns-port",
        3,
        usize::MAX,
        &["--may-exist"],
        cmd_add_netns_port,
    ),
    ("del-netns-port", 2, 2, &["--if-exists"], cmd_del_netns_port),
    ("set-controller", 1, usize::MAX, &[], cmd_set_controller),
    ("get-controller", 1, 1, &[], cmd_get_controller),
    ("del-controller", 1, 1, &[], cmd_del_controller),
    ("set-fail-mode", 2, 2, &[], cmd_set_fail_mode),
    ("get-fail-mode", 1, 1, &[], cmd_get_fail_mode),
    ("del-fail-mode", 1, 1, &[], cmd_del_fail_mode),
    ("set-ssl", 3, 3, &[], cmd_set_ssl),
    ("get-ssl", 0, 0, &[], cmd_get_ssl),
    ("del-ssl", 0, 0, &[], cmd_del_ssl),
    (
        "list",
        1,
        usize::MAX,
        &["--if-exists", "--columns"],
        cmd_list,
    ),
    ("find", 1, usize::MAX, &["--columns"], cmd_find),
    ("get", 3, usize::MAX, &["--if-exists"], cmd_get),
    ("set", 3, usize::MAX, &["--if-exists"], cmd_set),
    ("add", 4, usize::MAX, &["--if-exists"], cmd_add),
    ("remove", 4, usize::MAX, &["--if-exists"], cmd_remove),
    ("clear", 3, usize::MAX, &["--if-exists"], cmd_clear),
];

fn run(ctx: &mut Ctx, cmd: &Command) -> Res {
    let Some(&(name, min, max, allowed, verb)) = COMMANDS.iter().find(|c| c.0 == cmd.name) else {
        return fail(format!(
            "unknown command '{}'; use --help for help",
            cmd.name
        ));
    };
    for opt in &cmd.opts {
        let base = opt.split('=').next().unwrap_or(opt);
        if !allowed.contains(&base) {
            return fail(format!("'{name}' command has no '{base}' option"));
        }
    }
    let n = cmd.args.len();
    if n < min {
        return fail(format!(
            "'{name}' command requires at least {min} arguments"
        ));
    }
    if n > max {
        return fail(format!("'{name}' command takes at most {max} arguments"));
    }
    verb(ctx, cmd)
}

fn cmd_show(ctx: &mut Ctx, _: &Command) -> Res {
    match ctx.format {
        Format::Json => ctx.json(&show::json(&ctx.cfg, ctx.rt)),
        Format::Text => ctx.out.push_str(&show::text(&ctx.cfg, ctx.rt)),
    }
    Ok(())
}

fn cmd_add_br(ctx: &mut Ctx, cmd: &Command) -> Res {
    let br = &cmd.args[0];
    if cmd.args.len() > 1 {
        return fail("fake bridges (add-br BRIDGE PARENT VLAN) are not supported");
    }
    if let Some(owner) = ctx.cfg.port_bridge(br) {
        return fail(format!(
            "cannot create a bridge named {br} because a port named {br} already exists on bridge {owner}"
        ));
    }
    if ctx.cfg.bridges.contains_key(br) {
        if cmd.has("--may-exist") {
            return Ok(());
        }
        return fail(format!(
            "cannot create a bridge named {br} because a bridge named {br} already exists"
        ));
    }
    validate_name("bridge", br)?;
    ctx.cfg.bridges.insert(br.clone(), Bridge::new(br));
    Ok(())
}

fn cmd_del_br(ctx: &mut Ctx, cmd: &Command) -> Res {
    let br = &cmd.args[0];
    if ctx.cfg.bridges.remove(br).is_none() && !cmd.has("--if-exists") {
        return fail(format!("no bridge named {br}"));
    }
    Ok(())
}

fn cmd_list_br(ctx: &mut Ctx, _: &Command) -> Res {
    let names = ctx.cfg.bridges.keys().cloned().collect();
    ctx.names(names);
    Ok(())
}

/// `br-set-external-id BRIDGE KEY [VALUE]`: sets the key, or removes it
/// without a value.
fn cmd_br_set_external_id(ctx: &mut Ctx, cmd: &Command) -> Res {
    let b = ctx.bridge_mut(&cmd.args[0])?;
    let key = cmd.args[1].clone();
    match cmd.args.get(2) {
        Some(v) => b.external_ids.insert(key, v.clone()),
        None => b.external_ids.remove(&key),
    };
    Ok(())
}

/// `br-get-external-id BRIDGE [KEY]`: the key's value, or every
/// `key=value`.
fn cmd_br_get_external_id(ctx: &mut Ctx, cmd: &Command) -> Res {
    let ids = ctx.bridge(&cmd.args[0])?.external_ids.clone();
    match (cmd.args.get(1), ctx.format) {
        (Some(k), Format::Json) => ctx.json(&json!(ids.get(k))),
        (Some(k), Format::Text) => {
            if let Some(v) = ids.get(k) {
                ctx.line(v);
            }
        }
        (None, Format::Json) => ctx.json(&json!(ids)),
        (None, Format::Text) => {
            for (k, v) in &ids {
                ctx.line(&format!("{k}={v}"));
            }
        }
    }
    Ok(())
}

fn cmd_br_exists(ctx: &mut Ctx, cmd: &Command) -> Res {
    if !ctx.cfg.bridges.contains_key(&cmd.args[0]) {
        ctx.exit_code = 2;
    }
    Ok(())
}

/// Checks that port `port` can be added to bridge `br`; `Ok(false)` when
/// it already is there and `--may-exist` was given.
fn check_new_port(ctx: &Ctx, cmd: &Command, br: &str, port: &str) -> Res<bool> {
    ctx.bridge(br)?;
    if ctx.cfg.bridges.contains_key(port) {
        return fail(format!(
            "cannot create a port named {port} because a bridge named {port} already exists"
        ));
    }
    if let Some(owner) = ctx.cfg.port_bridge(port) {
        return match (cmd.has("--may-exist"), owner == br) {
            (true, true) => Ok(false),
            (true, false) => fail(format!(
                "\"--may-exist {} {br} {port}\" but {port} is actually attached to bridge {owner}",
                cmd.name
            )),
            (false, _) => fail(format!(
                "cannot create a port named {port} because a port named {port} already exists on bridge {owner}"
            )),
        };
    }
    validate_name("port", port)?;
    Ok(true)
}

fn port_rec(br: &str, port: &str) -> Rec {
    Rec::Port {
        bridge: br.into(),
        port: port.into(),
    }
}

fn cmd_add_port(ctx: &mut Ctx, cmd: &Command) -> Res {
    let (br, port) = (&cmd.args[0], &cmd.args[1]);
    if !check_new_port(ctx, cmd, br, port)? {
        return Ok(());
    }
    ctx.bridge_mut(br)?
        .ports
        .insert(port.clone(), Port::new(port));
    let rec = port_rec(br, port);
    for setting in &cmd.args[2..] {
        let arg = parse_column_arg(setting)?;
        // Port columns as ovs-vsctl; Interface columns as an extension.
        let table = match (
            Table::Port.column(&arg.column),
            Table::Interface.column(&arg.column),
        ) {
            (Ok(_), _) => Table::Port,
            (Err(_), Ok(_)) => Table::Interface,
            (Err(e), Err(_)) => return fail(e),
        };
        db::set(&mut ctx.cfg, table, &rec, &arg)?;
    }
    Ok(())
}

fn cmd_del_port(ctx: &mut Ctx, cmd: &Command) -> Res {
    let (br, port) = match &cmd.args[..] {
        [port] => (None, port),
        [br, port] => (Some(br), port),
        _ => return fail("'del-port' command requires at least 1 arguments"),
    };
    if let Some(br) = br {
        ctx.bridge(br)?;
    }
    if ctx.cfg.bridges.contains_key(port) {
        return fail(format!(
            "cannot delete port {port} because it is the local port for bridge {port} \
             (deleting this port requires deleting the entire bridge)"
        ));
    }
    let Some(owner) = ctx.cfg.port_bridge(port).map(str::to_string) else {
        if cmd.has("--if-exists") {
            return Ok(());
        }
        return fail(format!("no port named {port}"));
    };
    if let Some(br) = br.filter(|b| **b != owner) {
        return fail(format!("bridge {br} does not have a port {port}"));
    }
    ctx.bridge_mut(&owner)?.ports.remove(port);
    Ok(())
}

fn cmd_list_ports(ctx: &mut Ctx, cmd: &Command) -> Res {
    let names = ctx.bridge(&cmd.args[0])?.ports.keys().cloned().collect();
    ctx.names(names);
    Ok(())
}

fn cmd_port_to_br(ctx: &mut Ctx, cmd: &Command) -> Res {
    let name = &cmd.args[0];
    let what = if cmd.name == "port-to-br" {
        "port"
    } else {
        "interface"
    };
    match ctx.cfg.find_port(name) {
        Some(r) => {
            let br = r.bridge().name.clone();
            match ctx.format {
                Format::Json => ctx.json(&json!(br)),
                Format::Text => ctx.line(&br),
            }
            Ok(())
        }
        None => fail(format!("no {what} named {name}")),
    }
}

/// `add-netns-port BR PORT NETNS [--ipaddress=CIDR] [--macaddress=MAC]
/// [--mtu=N] [--gateway=IP] [--ifname=NAME]`: a `system` port whose
/// interface (one end of a veth pair the daemon creates) lives in network
/// namespace NETNS, configured with the given addresses, like
/// `ovs-docker add-port`. Only the model: the settings are recorded in
/// the port's `netns` and the interface's `external_ids` (`container_id` =
/// NETNS, `container_iface`, `ip_address`, `mac_address`, `gateway`, where
/// ovs-docker records them) and `mtu_request`.
fn cmd_add_netns_port(ctx: &mut Ctx, cmd: &Command) -> Res {
    let (br, port, netns) = (&cmd.args[0], &cmd.args[1], &cmd.args[2]);
    let mut p = Port::new(port);
    p.netns = Some(netns.clone());
    // The attachment, recorded where ovs-docker records it.
    let mut ids = std::collections::BTreeMap::from([
        ("container_id".to_string(), netns.clone()),
        ("container_iface".to_string(), "eth0".to_string()),
    ]);
    for opt in &cmd.args[3..] {
        let (name, value) = opt
            .split_once('=')
            .ok_or_else(|| format!("add-netns-port: want --OPTION=VALUE, got \"{opt}\""))?;
        match name {
            "--ipaddress" => {
                check_cidr(value)?;
                ids.insert("ip_address".into(), value.into());
            }
            "--macaddress" => {
                let mac = format_mac(parse_mac(value)?);
                ids.insert("mac_address".into(), mac);
            }
            "--gateway" => {
                value
                    .parse::<IpAddr>()
                    .map_err(|_| format!("add-netns-port: \"{value}\" is not an IP address"))?;
                ids.insert("gateway".into(), value.into());
            }
            "--mtu" => {
                let mtu = value
                    .parse::<u32>()
                    .map_err(|_| format!("\"{value}\" is not a valid integer"))?;
                p.interface.mtu_request = Some(check_mtu(mtu)?);
            }
            "--ifname" => {
                validate_name("interface", value)?;
                ids.insert("container_iface".into(), value.into());
            }
            _ => {
                return fail(format!(
                    "add-netns-port: unknown option {name} (want --ipaddress, --macaddress, --mtu, --gateway or --ifname)"
                ))
            }
        }
    }
    if !check_new_port(ctx, cmd, br, port)? {
        return Ok(());
    }
    p.interface.kind = InterfaceType::System;
    p.interface.external_ids = ids;
    ctx.bridge_mut(br)?.ports.insert(port.clone(), p);
    Ok(())
}

/// `del-netns-port BR NETNS`: removes every port of BR attached to
/// network namespace NETNS (as `ovs-docker del-ports` does for a
/// container); the daemon deletes their veth pairs, so the interfaces
/// vanish from the namespace. Fails if there is none, unless `--if-exists`.
fn cmd_del_netns_port(ctx: &mut Ctx, cmd: &Command) -> Res {
    let (br, netns) = (&cmd.args[0], &cmd.args[1]);
    let if_exists = cmd.has("--if-exists");
    let b = ctx.bridge_mut(br)?;
    let before = b.ports.len();
    b.ports
        .retain(|_, p| p.netns.as_deref() != Some(netns.as_str()));
    if b.ports.len() == before && !if_exists {
        return fail(format!(
            "bridge {br} has no port in network namespace {netns}"
        ));
    }
    Ok(())
}

fn check_cidr(s: &str) -> Res {
    let bad = || {
        format!("add-netns-port: \"{s}\" is not an address with prefix length (e.g. 10.1.1.5/24)")
    };
    let (ip, len) = s.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(bad().into());
    }
    Ok(())
}

/// `set-controller BRIDGE TARGET...`: as in ovs-vsctl, which makes new
/// `Controller` rows, the controllers' settings (`controller_rate_limit`,
/// ...) start again from the defaults, even for a target already set.
fn cmd_set_controller(ctx: &mut Ctx, cmd: &Command) -> Res {
    let targets = cmd.args[1..].to_vec();
    for t in &targets {
        crate::config::model::validate_controller_target(t)?;
    }
    let b = ctx.bridge_mut(&cmd.args[0])?;
    b.controllers = targets;
    b.controller_settings.clear();
    Ok(())
}

fn cmd_get_controller(ctx: &mut Ctx, cmd: &Command) -> Res {
    let targets = ctx.bridge(&cmd.args[0])?.controllers.clone();
    ctx.names(targets);
    Ok(())
}

fn cmd_del_controller(ctx: &mut Ctx, cmd: &Command) -> Res {
    let b = ctx.bridge_mut(&cmd.args[0])?;
    b.controllers.clear();
    b.controller_settings.clear();
    Ok(())
}

fn cmd_set_fail_mode(ctx: &mut Ctx, cmd: &Command) -> Res {
    let mode = cmd.args[1].parse()?;
    ctx.bridge_mut(&cmd.args[0])?.fail_mode = Some(mode);
    Ok(())
}

fn cmd_get_fail_mode(ctx: &mut Ctx, cmd: &Command) -> Res {
    let mode = ctx.bridge(&cmd.args[0])?.fail_mode;
    match (ctx.format, mode) {
        (Format::Json, m) => ctx.json(&json!(m.map(|m| m.as_str()))),
        (Format::Text, Some(m)) => ctx.line(m.as_str()),
        (Format::Text, None) => {}
    }
    Ok(())
}

fn cmd_del_fail_mode(ctx: &mut Ctx, cmd: &Command) -> Res {
    ctx.bridge_mut(&cmd.args[0])?.fail_mode = None;
    Ok(())
}

/// `set-ssl PRIVKEY CERT CACERT`. The daemon reads the files, so they
/// must be absolute paths (it does not share the caller's working
/// directory) and exist now; their contents are checked when a TLS
/// connection is made, and a file replaced later is used from the next
/// connection on. `--bootstrap` (fetching the CA certificate from the
/// controller) is not supported.
fn cmd_set_ssl(ctx: &mut Ctx, cmd: &Command) -> Res {
    ctx.cfg.ssl = Some(SslConfig {
        private_key: ssl_file(&cmd.args[0], "private key")?,
        certificate: ssl_file(&cmd.args[1], "certificate")?,
        ca_cert: ssl_file(&cmd.args[2], "CA certificate")?,
    });
    Ok(())
}

/// An absolute path to an existing regular file.
fn ssl_file(arg: &str, what: &str) -> Res<std::path::PathBuf> {
    let path = std::path::Path::new(arg);
    if !path.is_absolute() {
        return fail(format!(
            "set-ssl: the {what} path \"{arg}\" must be absolute (the daemon reads it)"
        ));
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(path.to_path_buf()),
        Ok(_) => fail(format!("set-ssl: the {what} {arg} is not a regular file")),
        Err(e) => fail(format!("set-ssl: cannot use the {what} {arg}: {e}")),
    }
}

/// `get-ssl`, printed as ovs-vsctl does (nothing when unset).
fn cmd_get_ssl(ctx: &mut Ctx, _: &Command) -> Res {
    let ssl = ctx.cfg.ssl.clone();
    match (ctx.format, ssl) {
        (Format::Json, ssl) => ctx.json(&json!(ssl.map(|s| json!({
            "private_key": s.private_key,
            "certificate": s.certificate,
            "ca_cert": s.ca_cert,
            "bootstrap": false,
        })))),
        (Format::Text, Some(s)) => {
            ctx.line(&format!("Private key: {}", s.private_key.display()));
            ctx.line(&format!("Certificate: {}", s.certificate.display()));
            ctx.line(&format!("CA Certificate: {}", s.ca_cert.display()));
            ctx.line("Bootstrap: false");
        }
        (Format::Text, None) => {}
    }
    Ok(())
}

fn cmd_del_ssl(ctx: &mut Ctx, _: &Command) -> Res {
    ctx.cfg.ssl = None;
    Ok(())
}

/// The record `name` of `table`, or `None` with `--if-exists`.
fn record(ctx: &Ctx, cmd: &Command, table: Table, name: &str) -> Res<Option<Rec>> {
    match db::find_rec(&ctx.cfg, table, name) {
        Some(r) => Ok(Some(r)),
        None if cmd.has("--if-exists") => Ok(None),
        None => match db::controller_lookup_hint(&ctx.cfg, name) {
            Some(hint) if table == Table::Controller => fail(hint),
            _ => fail(format!("no row \"{name}\" in table {}", table.name())),
        },
    }
}

/// The columns `--columns=a,b` selects, else all.
fn columns(cmd: &Command, table: Table) -> Res<Vec<&'static str>> {
    match cmd.opt_value("--columns") {
        None => Ok(table.columns().to_vec()),
        Some(list) => list
            .split(',')
            .map(|c| table.column(c.trim()).map_err(VsctlError::from))
            .collect(),
    }
}

/// Prints records as ovs-vsctl's list format, or a JSON array of objects.
fn print_records(ctx: &mut Ctx, table: Table, recs: &[Rec], cols: &[&str]) {
    match ctx.format {
        Format::Json => {
            let docs: Vec<Json> = recs
                .iter()
                .map(|r| {
                    let obj: serde_json::Map<String, Json> = cols
                        .iter()
                        .map(|c| (c.to_string(), db::get(&ctx.cfg, ctx.rt, table, r, c).json()))
                        .collect();
                    Json::Object(obj)
                })
                .collect();
            ctx.json(&Json::Array(docs));
        }
        Format::Text if ctx.text.table => {
            let rows: Vec<Vec<String>> = recs
                .iter()
                .map(|r| {
                    cols.iter()
                        .map(|c| ctx.text.value(&db::get(&ctx.cfg, ctx.rt, table, r, c)))
                        .collect()
                })
                .collect();
            let widths: Vec<usize> = (0..cols.len())
                .map(|i| {
                    rows.iter()
                        .map(|r| r[i].len())
                        .chain([if ctx.text.no_headings {
                            0
                        } else {
                            cols[i].len()
                        }])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let mut lines = Vec::new();
            if !ctx.text.no_headings {
                lines.push(cols.iter().map(|c| c.to_string()).collect());
                lines.push(widths.iter().map(|w| "-".repeat(*w)).collect());
            }
            lines.extend(rows);
            for cells in lines {
                let line: Vec<String> = cells
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                ctx.line(line.join(" ").trim_end());
            }
        }
        Format::Text => {
            for (i, r) in recs.iter().enumerate() {
                if i > 0 {
                    ctx.line("");
                }
                for c in cols {
                    let v = ctx.text.value(&db::get(&ctx.cfg, ctx.rt, table, r, c));
                    if ctx.text.no_headings {
                        ctx.line(&v);
                    } else {
                        ctx.line(&format!("{c:<20}: {v}"));
                    }
                }
            }
        }
    }
}

fn cmd_list(ctx: &mut Ctx, cmd: &Command) -> Res {
    let table = db::parse_table(&cmd.args[0])?;
    let cols = columns(cmd, table)?;
    let recs = if cmd.args.len() == 1 {
        db::all_recs(&ctx.cfg, table)
    } else {
        let mut recs = Vec::new();
        for name in &cmd.args[1..] {
            recs.extend(record(ctx, cmd, table, name)?);
        }
        recs
    };
    print_records(ctx, table, &recs, &cols);
    Ok(())
}

fn cmd_find(ctx: &mut Ctx, cmd: &Command) -> Res {
    let table = db::parse_table(&cmd.args[0])?;
    let cols = columns(cmd, table)?;
    let conds = cmd.args[1..]
        .iter()
        .map(|a| parse_column_arg(a).map_err(VsctlError::from))
        .collect::<Res<Vec<_>>>()?;
    let mut found = Vec::new();
    for rec in db::all_recs(&ctx.cfg, table) {
        let mut all = true;
        for c in &conds {
            all &= db::matches(&ctx.cfg, ctx.rt, table, &rec, c)?;
        }
        if all {
            found.push(rec);
        }
    }
    print_records(ctx, table, &found, &cols);
    Ok(())
}

fn cmd_get(ctx: &mut Ctx, cmd: &Command) -> Res {
    let table = db::parse_table(&cmd.args[0])?;
    let Some(rec) = record(ctx, cmd, table, &cmd.args[1])? else {
        return Ok(());
    };
    for a in &cmd.args[2..] {
        let arg = parse_column_arg(a)?;
        let col = table.column(&arg.column)?;
        let mut val = db::get(&ctx.cfg, ctx.rt, table, &rec, col);
        if let Some(key) = &arg.key {
            match val.key(key) {
                Some(v) => val = v,
                None if matches!(val, db::Val::Map(_) | db::Val::NumMap(_)) => {
                    if cmd.has("--if-exists") {
                        continue;
                    }
                    return fail(format!(
                        "no key \"{key}\" in {} record \"{}\" column {col}",
                        table.name(),
                        rec.name()
                    ));
                }
                None => {
                    return fail(format!(
                        "cannot specify key to get for non-map column {col}"
                    ))
                }
            }
        }
        match ctx.format {
            Format::Json => ctx.json(&val.json()),
            Format::Text => {
                let v = ctx.text.value(&val);
                ctx.line(&v);
            }
        }
    }
    Ok(())
}

fn cmd_set(ctx: &mut Ctx, cmd: &Command) -> Res {
    let table = db::parse_table(&cmd.args[0])?;
    let Some(rec) = record(ctx, cmd, table, &cmd.args[1])? else {
        return Ok(());
    };
    for a in &cmd.args[2..] {
        db::set(&mut ctx.cfg, table, &rec, &parse_column_arg(a)?)?;
    }
    Ok(())
}

fn cmd_add(ctx: &mut Ctx, cmd: &Command) -> Res {
    let table = db::parse_table(&cmd.args[0])?;
    let Some(rec) = record(ctx, cmd, table, &cmd.args[1])? else {
        return Ok(());
    };
    Ok(db::add(
        &mut ctx.cfg,
        table,
        &rec,
        &cmd.args[2],
        &cmd.args[3..],
    )?)
}

fn cmd_remove(ctx: &mut Ctx, cmd: &Command) -> Res {
    let table = db::parse_table(&cmd.args[0])?;
    let Some(rec) = record(ctx, cmd, table, &cmd.args[1])? else {
        return Ok(());
    };
    Ok(db::remove(
        &mut ctx.cfg,
        table,
        &rec,
        &cmd.args[2],
        &cmd.args[3..],
    )?)
}

fn cmd_clear(ctx: &mut Ctx, cmd: &Command) -> Res {
    let table = db::parse_table(&cmd.args[0])?;
    let Some(rec) = record(ctx, cmd, table, &cmd.args[1])? else {
        return Ok(());
    };
    for col in &cmd.args[2..] {
        db::clear(&mut ctx.cfg, table, &rec, col)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
