//! Command-line entry of `ofswitch vsctl`: a thin client. It forwards its
//! arguments to the daemon over the management socket (the daemon owns the
//! configuration and runs the verbs), prints the output, and exits like
//! ovs-vsctl: 0 on success, 1 with a one-line error on stderr, 2 when
//! `br-exists` finds no bridge. Only `help` and `--timeout` are handled
//! here (and `--format` is passed along in the request); every other
//! option and verb is parsed by the daemon, so client and daemon cannot
//! disagree on what a command means.

use crate::config::protocol::{self, Request};
use crate::config::vsctl::Format;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

const PREFIX: &str = "ofswitch vsctl";

const USAGE: &str = "\
usage: ofswitch [--state-dir DIR] vsctl [OPTIONS] COMMAND [ARG...] [-- COMMAND [ARG...]]...

Configure the switch like ovs-vsctl; commands separated by `--` run as one
transaction (all or nothing).

Bridge commands:
  add-br BRIDGE                 create a bridge
  del-br BRIDGE                 delete a bridge and its ports
  list-br                       print the bridges' names
  br-exists BRIDGE              exit 2 if BRIDGE does not exist
  br-set-external-id BRIDGE KEY [VALUE] / br-get-external-id BRIDGE [KEY]
  set-controller BRIDGE TARGET...  tcp:IP[:PORT] ssl:IP[:PORT] ptcp:[PORT][:IP] pssl:[PORT][:IP]
                                   unix:PATH punix:PATH
  get-controller BRIDGE / del-controller BRIDGE
  set-fail-mode BRIDGE secure|standalone / get-fail-mode BRIDGE / del-fail-mode BRIDGE

SSL commands (for ssl: and pssl: targets; PEM files, absolute paths):
  set-ssl PRIVKEY CERT CACERT   the switch's key and certificate, and the CA peers must be signed by
  get-ssl / del-ssl             print / remove them

Port commands:
  add-port BRIDGE PORT [COLUMN[:KEY]=VALUE]...   create a port (Port or Interface columns)
  del-port [BRIDGE] PORT        delete a port
  list-ports BRIDGE             print the ports of BRIDGE
  port-to-br PORT               print the bridge that contains PORT
  add-netns-port BRIDGE PORT NETNS [--ipaddress=CIDR] [--macaddress=MAC] [--mtu=N]
                 [--gateway=IP] [--ifname=NAME]   attach a network namespace (ovs-docker);
                                the attachment goes to the port's external_ids
  del-netns-port BRIDGE NETNS   delete every port of BRIDGE attached to NETNS

Database commands (tables Bridge, Port, Interface, Controller):
  list TABLE [RECORD]...        list records
  find TABLE [COLUMN[:KEY]=VALUE]...  list matching records
  get TABLE RECORD COLUMN[:KEY]...    print values
  set TABLE RECORD COLUMN[:KEY]=VALUE...  e.g. set interface vx1 type=vxlan options:remote_ip=10.0.0.2
                                      set controller br0 controller_rate_limit=1000 controller_burst_limit=250
  add TABLE RECORD COLUMN VALUE...    add to a set or map column
  remove TABLE RECORD COLUMN VALUE... remove from a set or map column
  clear TABLE RECORD COLUMN...        empty columns
  show                          overview of the configuration

Options:
  --may-exist / --if-exists     (before a command) don't fail if it already exists / does not exist
  -f, --format=list|table|json  output format of list, find, get, show, list-br, list-ports
  -d, --data=string|bare        values quoted as in the database, or bare (no quotes, sets and
                                maps as space-separated items)
  --no-headings                 list and find without column names
  --bare                        --format=list --data=bare --no-headings
  -t, --timeout=SECS            give up waiting for the daemon after SECS seconds
  --dry-run                     check the commands without changing the configuration
";

/// Runs one invocation; `args` are the words after the subcommand.
pub fn main(state_dir: &Path, args: Vec<String>) -> ExitCode {
    // `help` as a verb too: clap answers `ofswitch vsctl --help` itself.
    let help = args.first().is_some_and(|a| a == "help")
        || args.iter().any(|a| a == "--help" || a == "-h");
    if args.is_empty() {
        eprint!("{USAGE}");
        return ExitCode::from(1);
    }
    if help {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (timeout, format) = match client_options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{PREFIX}: {e}");
            return ExitCode::from(1);
        }
    };
    let req = Request { argv: args, format };
    match protocol::request_with(state_dir, &req, timeout) {
        Ok(resp) => {
            let mut stdout = std::io::stdout().lock();
            // A closed stdout (e.g. `| head`) is not worth an error.
            let _ = stdout.write_all(resp.output.as_bytes());
            let _ = stdout.flush();
            for w in &resp.warnings {
                eprintln!("{PREFIX}: {w}");
            }
            if let Some(e) = &resp.error {
                eprintln!("{PREFIX}: {e}");
            }
            let code = match resp.exit_code {
                0 if !resp.ok => 1,
                c => u8::try_from(c).unwrap_or(1),
            };
            ExitCode::from(code)
        }
        Err(e) => {
            eprintln!("{PREFIX}: {e}");
            ExitCode::from(1)
        }
    }
}

/// `--timeout` and `--format` among the leading options.
fn client_options(args: &[String]) -> Result<(Option<Duration>, Format), String> {
    let mut timeout = None;
    let mut format = Format::Text;
    let mut i = 0;
    while let Some(a) = args.get(i).filter(|a| a.starts_with('-') && *a != "--") {
        let next = args.get(i + 1).map(String::as_str);
        let (name, value, used_next) = match a.split_once('=') {
            Some((n, v)) => (n, Some(v), false),
            None if matches!(
                a.as_str(),
                "-t" | "--timeout" | "-f" | "--format" | "-d" | "--data"
            ) =>
            {
                (a.as_str(), next, true)
            }
            None if a.starts_with("-f") && a.len() > 2 => ("-f", Some(&a[2..]), false),
            None => (a.as_str(), None, false),
        };
        match (name, value) {
            ("-t" | "--timeout", Some(v)) => {
                let secs: u64 = v
                    .parse()
                    .map_err(|_| format!("invalid --timeout \"{v}\" (want seconds)"))?;
                // 0 means wait forever, as in ovs-vsctl.
                timeout = (secs > 0).then(|| Duration::from_secs(secs));
            }
            ("-f" | "--format", Some("json")) => format = Format::Json,
            ("-t" | "--timeout" | "-f" | "--format", None) => {
                return Err(format!("option '{a}' requires an argument"));
            }
            _ => {}
        }
        i += if used_next { 2 } else { 1 };
    }
    Ok((timeout, format))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn client_option_parsing() {
        assert_eq!(client_options(&v("show")).unwrap(), (None, Format::Text));
        assert_eq!(
            client_options(&v("--timeout=5 -f json list-br")).unwrap(),
            (Some(Duration::from_secs(5)), Format::Json)
        );
        assert_eq!(
            client_options(&v("-t 3 --format json show")).unwrap(),
            (Some(Duration::from_secs(3)), Format::Json)
        );
        assert_eq!(client_options(&v("--timeout=0 show")).unwrap().0, None);
        assert!(client_options(&v("--timeout=x show")).is_err());
        assert!(client_options(&v("--timeout")).is_err());
    }
}
