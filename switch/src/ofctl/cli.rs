//! Command-line entry of `ofswitch ofctl`: options, then `VERB SWITCH ARGS`.
//!
//! Why hand-written rather than clap: ovs-ofctl's syntax is positional and
//! its options may appear anywhere (getopt permutes), flows may contain
//! characters clap would treat specially, and every mistake must be a
//! single line naming the problem with exit status 1 (clap exits 2).

use super::client::CtlError;
use super::verbs::{self, Options};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

const HELP: &str = "usage: ofswitch [--state-dir DIR] ofctl [OPTIONS] VERB SWITCH [ARGS...]
An OpenFlow 1.3 client in the manner of ovs-ofctl.

SWITCH is a bridge name (its socket DIR/BRIDGE.mgmt), tcp:IP[:PORT] or unix:PATH.

Options:
  -O, --protocols OpenFlow13   accepted (only OpenFlow 1.3 is spoken)
  --strict                     mod-flows/del-flows match priority and fields exactly
  --readd                      replace-flows adds every flow again, also unchanged ones
  --sort[=FIELD], --rsort[=FIELD]  dump-flows sorted by FIELD (a match field, or priority,
                               the default), ascending or descending
  --no-stats                   dump-flows without durations and counters
  --names                      dump-flows shows port and table names (the default
                               when standard output is a terminal)
  --no-names                   numbers only: no port or table names in dumps or flows
  -t, --timeout SECS           wait at most SECS for the switch (default 10)
  -h, --help                   this text

Verbs:";

/// Runs one invocation; `args` are the words after the subcommand.
pub fn main(state_dir: &Path, args: Vec<String>) -> ExitCode {
    match run(state_dir, args) {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            for line in e.0.lines() {
                eprintln!("ofswitch ofctl: {line}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Splits options from positional words.
fn parse_args(args: Vec<String>) -> Result<(Options, Vec<String>, bool), CtlError> {
    let mut opts = Options::default();
    let mut words = Vec::new();
    let mut help = false;
    let mut it = args.into_iter();
    let protocols = |v: &str| -> Result<(), CtlError> {
        if v.eq_ignore_ascii_case("OpenFlow13") {
            Ok(())
        } else {
            Err(CtlError::new(format!(
                "unsupported OpenFlow version '{v}': only OpenFlow13 is spoken"
            )))
        }
    };
    while let Some(a) = it.next() {
        if a == "--" {
            words.extend(it.by_ref());
            break;
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if a.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, CtlError> {
            match inline.clone().or_else(|| it.next()) {
                Some(v) => Ok(v),
                None => Err(CtlError::new(format!("option {what} needs a value"))),
            }
        };
        match name.as_str() {
            "-O" | "--protocols" => protocols(&value(&name)?)?,
            s if s.starts_with("-O") => protocols(&s[2..])?,
            "--strict" => opts.strict = true,
            "--readd" => opts.readd = true,
            "--sort" | "--rsort" => {
                opts.sort = Some(verbs::SortBy {
                    field: inline.clone().unwrap_or_else(|| "priority".into()),
                    descending: name == "--rsort",
                })
            }
            "--no-stats" => opts.no_stats = true,
            "--stats" => opts.no_stats = false,
            "--names" => opts.names = Some(true),
            "--no-names" => opts.names = Some(false),
            "--read-only" => {}
            "-t" | "--timeout" => {
                let v = value(&name)?;
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s < 1e6)
                    .ok_or_else(|| CtlError::new(format!("{v}: invalid timeout in seconds")))?;
                opts.timeout = Duration::from_secs_f64(secs);
            }
            "-h" | "--help" => help = true,
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(CtlError::new(format!(
                    "unknown option '{s}'; use --help for help"
                )))
            }
            _ => words.push(a),
        }
    }
    Ok((opts, words, help))
}

/// Runs one invocation; its exit status.
fn run(state_dir: &Path, args: Vec<String>) -> Result<u8, CtlError> {
    let (opts, words, help) = parse_args(args)?;
    if help {
        println!("{HELP}");
        for (_, _, _, usage) in verbs::VERBS {
            println!("  {usage}");
        }
        return Ok(0);
    }
    let [verb, rest @ ..] = words.as_slice() else {
        return Err(CtlError::new("missing command name; use --help for help"));
    };
    if verb == "trace" || verb == "ofproto/trace" {
        // Traced inside the daemon, which owns the bridge's tables.
        let [bridge, flow] = rest else {
            return Err(CtlError::new("usage: ofswitch ofctl trace BRIDGE FLOW"));
        };
        let argv = vec!["trace".to_string(), bridge.clone(), flow.clone()];
        let resp = crate::config::protocol::request(state_dir, argv)
            .map_err(|e| CtlError::new(e.to_string()))?;
        if !resp.ok {
            return Err(CtlError::new(
                resp.error.unwrap_or_else(|| "trace failed".to_string()),
            ));
        }
        print!("{}", resp.output);
        return Ok(0);
    }
    let Some(usage) = verbs::usage(verb) else {
        return Err(CtlError::new(format!(
            "unknown command '{verb}'; use --help for help"
        )));
    };
    let [target, rest @ ..] = rest else {
        return Err(CtlError::new(format!(
            "'{verb}' needs a switch; usage: ofswitch ofctl {usage}"
        )));
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    verbs::run(verb, target, rest, &opts, state_dir, &mut out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_anywhere() {
        let (o, w, h) = parse_args(words(&[
            "-O",
            "OpenFlow13",
            "del-flows",
            "--strict",
            "br0",
            "-OOpenFlow13",
            "--timeout=2.5",
            "ip",
        ]))
        .expect("args");
        assert!(o.strict && !h);
        assert_eq!(o.names, None);
        assert_eq!(o.timeout, Duration::from_millis(2500));
        assert_eq!(w, words(&["del-flows", "br0", "ip"]));
        assert!(parse_args(words(&["-O", "OpenFlow10", "show", "br0"])).is_err());
        assert!(parse_args(words(&["--protocols=OpenFlow15", "show", "br0"])).is_err());
        assert!(parse_args(words(&["--bogus", "show", "br0"])).is_err());
        assert!(parse_args(words(&["-t"])).is_err());
        let (o, _, _) = parse_args(words(&["--names", "dump-flows", "br0"])).expect("names");
        assert_eq!(o.names, Some(true));
        let (o, _, _) =
            parse_args(words(&["--names", "dump-flows", "--no-names", "br0"])).expect("last wins");
        assert_eq!(o.names, Some(false));
        let (_, w, _) = parse_args(words(&["add-flows", "br0", "-"])).expect("stdin");
        assert_eq!(w, words(&["add-flows", "br0", "-"]));
    }

    #[test]
    fn usage_errors() {
        let d = Path::new("/nonexistent");
        assert!(run(d, words(&[])).is_err());
        assert!(run(d, words(&["show"])).is_err());
        assert!(run(d, words(&["nosuch", "br0"])).is_err());
        let e = run(d, words(&["show", "br0", "extra"])).expect_err("extra arg");
        assert!(e.0.contains("usage: ofswitch ofctl show SWITCH"), "{e}");
        let e = run(d, words(&["show", "br0"])).expect_err("no daemon");
        assert_eq!(
            e.0,
            "cannot connect to br0 (/nonexistent/br0.mgmt): No such file or directory — \
             is the daemon running and the bridge created?"
        );
    }
}
