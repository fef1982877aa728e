//! Links, addresses and namespaces through rtnetlink.
//!
//! What a namespace port (`add-netns-port`, as `ovs-docker add-port`)
//! needs from the kernel: a veth pair whose peer is created directly
//! inside the namespace under its final name, the peer's MAC, MTU and
//! address, the links up, a default route, and deleting the pair again.
//! These were iproute2 `ip` commands; here they are rtnetlink requests on
//! a socket of the switch's own:
//!
//! - no child process per step and per port (a dozen for one namespace),
//!   so hundreds of namespace ports come up quickly, and nothing depends
//!   on `ip` being installed or on the wording of its output;
//! - every request asks for the kernel's ACK and reads it, and an error
//!   names the operation and carries the kernel's reason: its errno and,
//!   where the kernel gives one, its extended-ACK message (e.g.
//!   `create veth p1 (peer eth0 in network namespace ns1): File exists
//!   (os error 17)`);
//! - synchronous, on a plain blocking [`netlink_sys::Socket`]: no async
//!   runtime to start or to block on, so the daemon calls it as it called
//!   `ip`.
//!
//! Requests inside a namespace go through a socket opened there
//! ([`Rtnl::in_netns`]): a short-lived thread enters the namespace
//! (`setns`), opens the socket and ends. A netlink socket stays bound to
//! the namespace it was created in, so no thread that goes on running
//! other code ever changes namespace.

use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use netlink_packet_core::{
    ErrorBuffer, NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NlasIterator,
    NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_CREATE,
    NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkHeader, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// Where `ip netns add` (and Docker, through `ovs-docker`) names its
/// network namespaces.
pub const NETNS_DIR: &str = "/var/run/netns";

/// How long a request waits for the kernel's answer before it fails.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// The receive buffer: an ACK or error is a few dozen bytes, one link's
/// description a few KiB.
const RECV_BUF: usize = 64 * 1024;

/// `NLMSGERR_ATTR_MSG`: the extended ACK's text.
const NLMSGERR_ATTR_MSG: u16 = 1;

/// The length of a netlink message header (`struct nlmsghdr`).
const NLMSG_HDRLEN: usize = 16;

/// A named network namespace, held open (its file under [`NETNS_DIR`]).
#[derive(Debug)]
pub struct Netns {
    name: String,
    file: File,
}

impl Netns {
    /// Opens the namespace `NETNS_DIR/NAME`; "no network namespace named
    /// NAME" when there is none.
    pub fn open(name: &str) -> Result<Netns, String> {
        let missing = || format!("no network namespace named {name}");
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return Err(missing());
        }
        let path = Path::new(NETNS_DIR).join(name);
        if !path.exists() {
            return Err(missing());
        }
        let file = File::open(&path).map_err(|e| format!("open network namespace {name}: {e}"))?;
        Ok(Netns {
            name: name.to_string(),
            file,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// An rtnetlink socket in one network namespace, for requests that each
/// wait for the kernel's ACK.
pub struct Rtnl {
    socket: Socket,
    seq: u32,
    /// The namespace's name, for errors; `None` for the switch's own.
    netns: Option<String>,
    buf: Vec<u8>,
}

impl Rtnl {
    /// A socket in the calling thread's network namespace (the switch's).
    pub fn new() -> Result<Rtnl, String> {
        let socket = open_socket().map_err(|e| format!("open rtnetlink socket: {e}"))?;
        Ok(Rtnl::with(socket, None))
    }

    /// A socket inside namespace `ns`, opened on a short-lived thread that
    /// enters the namespace first; the calling thread stays where it is.
    pub fn in_netns(ns: &Netns) -> Result<Rtnl, String> {
        let fd = ns.file.as_raw_fd();
        let opened = std::thread::scope(|s| {
            let thread = std::thread::Builder::new()
                .name("netns-rtnl".into())
                .spawn_scoped(s, move || -> io::Result<Socket> {
                    // SAFETY: `fd` is the namespace's open file, alive for
                    // the whole scope; setns changes the namespace of this
                    // thread only, which ends once the socket is open.
                    if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    open_socket()
                })?;
            thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("its thread panicked")))
        });
        let socket = opened.map_err(|e| {
            format!(
                "open rtnetlink socket in network namespace {}: {e}",
                ns.name
            )
        })?;
        Ok(Rtnl::with(socket, Some(ns.name.clone())))
    }

    fn with(socket: Socket, netns: Option<String>) -> Rtnl {
        Rtnl {
            socket,
            seq: 0,
            netns,
            buf: Vec::with_capacity(RECV_BUF),
        }
    }

    /// Creates veth pair `name` / `peer`; with `peer_netns`, the peer is
    /// created directly inside that namespace under its final name.
    pub fn add_veth(
        &mut self,
        name: &str,
        peer: &str,
        peer_netns: Option<&Netns>,
    ) -> Result<(), String> {
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.into()));
        if let Some(ns) = peer_netns {
            p.attributes
                .push(LinkAttribute::NetNsFd(ns.file.as_raw_fd()));
        }
        let mut m = LinkMessage::default();
        m.attributes = vec![
            LinkAttribute::IfName(name.into()),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
            ]),
        ];
        let op = match peer_netns {
            Some(ns) => format!(
                "create veth {name} (peer {peer} in network namespace {})",
                ns.name
            ),
            None => format!("create veth {name} (peer {peer})"),
        };
        self.request(
            &op,
            NLM_F_CREATE | NLM_F_EXCL,
            RouteNetlinkMessage::NewLink(m),
        )
        .map(drop)
    }

    /// Deletes link `name` (for a veth, both ends).
    pub fn delete_link(&mut self, name: &str) -> Result<(), String> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.into()));
        self.request(
            &format!("delete link {name}"),
            0,
            RouteNetlinkMessage::DelLink(m),
        )
        .map(drop)
    }

    /// Sets link `name` administratively up.
    pub fn set_up(&mut self, name: &str) -> Result<(), String> {
        let mut m = LinkMessage::default();
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        self.set_link(&format!("set {name} up"), name, m)
    }

    /// Sets the MTU of link `name`.
    pub fn set_mtu(&mut self, name: &str, mtu: u32) -> Result<(), String> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::Mtu(mtu));
        self.set_link(&format!("set mtu {mtu} on {name}"), name, m)
    }

    /// Sets the MAC address of link `name`.
    pub fn set_mac(&mut self, name: &str, mac: [u8; 6]) -> Result<(), String> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        let text = mac.map(|b| format!("{b:02x}")).join(":");
        self.set_link(&format!("set address {text} on {name}"), name, m)
    }

    /// RTM_SETLINK of `m` on the link named `name`.
    fn set_link(&mut self, op: &str, name: &str, mut m: LinkMessage) -> Result<(), String> {
        m.attributes.push(LinkAttribute::IfName(name.into()));
        self.request(op, 0, RouteNetlinkMessage::SetLink(m))
            .map(drop)
    }

    /// The interface index of link `name`.
    pub fn link_index(&mut self, name: &str) -> Result<u32, String> {
        let op = format!("find link {name}");
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.into()));
        let reply = self.request(&op, 0, RouteNetlinkMessage::GetLink(m))?;
        // Only the header is read: nothing depends on parsing every
        // attribute the kernel describes a link with.
        let header = reply
            .as_deref()
            .map(LinkHeader::parse)
            .transpose()
            .map_err(|e| self.fail(&op, &format!("bad reply: {e}")))?;
        match header {
            Some(h) if h.index != 0 => Ok(h.index),
            _ => Err(self.fail(&op, "no link in the reply")),
        }
    }

    /// Adds address `addr/prefix_len` to link `name`.
    pub fn add_address(&mut self, name: &str, addr: IpAddr, prefix_len: u8) -> Result<(), String> {
        let index = self.link_index(name)?;
        let mut m = AddressMessage::default();
        m.header.family = family(addr);
        m.header.prefix_len = prefix_len;
        m.header.index = index;
        // As `ip addr add`: the local address and the (same) peer address.
        m.attributes = vec![
            AddressAttribute::Local(addr),
            AddressAttribute::Address(addr),
        ];
        self.request(
            &format!("add address {addr}/{prefix_len} to {name}"),
            NLM_F_CREATE | NLM_F_EXCL,
            RouteNetlinkMessage::NewAddress(m),
        )
        .map(drop)
    }

    /// Adds the default route via `gateway` (main table, IPv4 or IPv6 as
    /// the gateway is).
    pub fn add_default_route(&mut self, gateway: IpAddr) -> Result<(), String> {
        let mut m = RouteMessage::default();
        m.header.address_family = family(gateway);
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Boot;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        m.attributes = vec![RouteAttribute::Gateway(gateway.into())];
        self.request(
            &format!("add default route via {gateway}"),
            NLM_F_CREATE | NLM_F_EXCL,
            RouteNetlinkMessage::NewRoute(m),
        )
        .map(drop)
    }

    /// "OP[ in network namespace NS]: REASON".
    fn fail(&self, op: &str, reason: &str) -> String {
        match &self.netns {
            Some(ns) => format!("{op} in network namespace {ns}: {reason}"),
            None => format!("{op}: {reason}"),
        }
    }

    /// Sends `msg` with `NLM_F_REQUEST | NLM_F_ACK | flags` and reads until
    /// its ACK: the payload of the last reply before the ACK (a GET's
    /// answer), or the kernel's error with its reason.
    fn request(
        &mut self,
        op: &str,
        flags: u16,
        msg: RouteNetlinkMessage,
    ) -> Result<Option<Vec<u8>>, String> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        match self.socket.send(&out, 0) {
            Ok(n) if n == out.len() => {}
            Ok(n) => return Err(self.fail(op, &format!("sent {n} of {} bytes", out.len()))),
            Err(e) => return Err(self.fail(op, &format!("send: {e}"))),
        }
        let mut reply = None;
        loop {
            self.buf.clear();
            let n = match self.socket.recv(&mut self.buf, libc::MSG_TRUNC) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let secs = REPLY_TIMEOUT.as_secs();
                    return Err(self.fail(op, &format!("no answer from the kernel in {secs} s")));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.fail(op, &format!("receive: {e}"))),
            };
            if n > self.buf.len() {
                return Err(self.fail(op, &format!("reply of {n} bytes truncated")));
            }
            let mut off = 0;
            while off + NLMSG_HDRLEN <= self.buf.len() {
                let rest = &self.buf[off..];
                let nl = NetlinkBuffer::new_checked(rest)
                    .map_err(|e| self.fail(op, &format!("bad reply: {e}")))?;
                let len = nl.length() as usize;
                if len < NLMSG_HDRLEN || len > rest.len() {
                    return Err(self.fail(op, "bad reply: bad message length"));
                }
                off += len.next_multiple_of(4);
                if nl.sequence_number() != self.seq {
                    // The answer to an earlier request that gave up.
                    continue;
                }
                let payload = &rest[NLMSG_HDRLEN..len];
                match nl.message_type() {
                    NLMSG_ERROR => {
                        let e = ErrorBuffer::new_checked(payload)
                            .map_err(|e| self.fail(op, &format!("bad reply: {e}")))?;
                        let Some(code) = e.code() else {
                            return Ok(reply);
                        };
                        let errno = io::Error::from_raw_os_error(code.get().saturating_abs());
                        let reason = match ext_ack_message(nl.flags(), e.payload()) {
                            Some(text) => format!("{errno}: {text}"),
                            None => errno.to_string(),
                        };
                        return Err(self.fail(op, &reason));
                    }
                    NLMSG_DONE | NLMSG_NOOP => {}
                    _ => reply = Some(payload.to_vec()),
                }
            }
        }
    }
}

/// The extended ACK's text in an error message's payload after its code
/// (the request's header, or the whole request when not capped, then the
/// attributes), if the kernel gave one.
fn ext_ack_message(flags: u16, after_code: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let request_len = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        u32::from_ne_bytes(after_code.get(..4)?.try_into().ok()?) as usize
    };
    let attrs = after_code.get(request_len.next_multiple_of(4)..)?;
    NlasIterator::new(attrs)
        .map_while(Result::ok)
        .find(|nla| nla.kind() == NLMSGERR_ATTR_MSG)
        .and_then(|nla| {
            let text = nla.value().split(|&b| b == 0).next().unwrap_or_default();
            let text = String::from_utf8_lossy(text).trim().to_string();
            (!text.is_empty()).then_some(text)
        })
}

fn family(addr: IpAddr) -> AddressFamily {
    match addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// A bound, connected rtnetlink socket in the calling thread's namespace
/// that asks for extended ACKs and times out waiting for an answer.
fn open_socket() -> io::Result<Socket> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    // The kernel's message with its errno, and errors that quote only the
    // request's header; both optional (older kernels).
    let _ = socket.set_ext_ack(true);
    let _ = socket.set_cap_ack(true);
    let tv = libc::timeval {
        tv_sec: REPLY_TIMEOUT.as_secs() as libc::time_t,
        tv_usec: 0,
    };
    // SAFETY: `tv` is a live timeval of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(socket)
}

/// Parses `ADDR/LEN` (as `ip addr add` takes it; a bare address is a
/// host address, /32 or /128).
pub fn parse_prefix(s: &str) -> Result<(IpAddr, u8), String> {
    let bad = || format!("\"{s}\" is not an address with prefix length (e.g. 10.1.1.5/24)");
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l.trim().parse::<u8>().map_err(|_| bad())?,
        None => max,
    };
    if len > max {
        return Err(bad());
    }
    Ok((addr, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::NetnsAttachment;
    use crate::datapath::port::system::{create_netns_veth, delete_veth};
    use crate::datapath::test_support::{have_root, ip, IpOnDrop};
    use serde_json::Value;
    use std::process::Command;

    /// A name unique to this process and test: `oflk`, the pid and `tag`
    /// (at most 15 bytes, an interface name's limit).
    fn name(tag: &str) -> String {
        format!("oflk{}{tag}", std::process::id())
    }

    /// A new namespace `name(tag)` and the guard that deletes it.
    fn netns(tag: &str) -> (String, IpOnDrop) {
        let ns = name(tag);
        assert!(ip(&["netns", "add", &ns]), "ip netns add {ns}");
        let guard = IpOnDrop::new(&["netns", "del", &ns]);
        (ns, guard)
    }

    /// `ip [-n NS] -j ARGS` as JSON; an empty array when it fails (e.g. no
    /// such device).
    fn ip_json(ns: Option<&str>, args: &[&str]) -> Value {
        let mut cmd = Command::new("ip");
        if let Some(ns) = ns {
            cmd.args(["-n", ns]);
        }
        let out = cmd.arg("-j").args(args).output().expect("run ip");
        if !out.status.success() {
            return Value::Array(Vec::new());
        }
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Array(Vec::new()))
    }

    /// `ip -j link show dev NAME`'s object, if the link exists.
    fn link(ns: Option<&str>, name: &str) -> Option<Value> {
        ip_json(ns, &["link", "show", "dev", name])
            .as_array()
            .and_then(|a| a.first().cloned())
    }

    fn is_up(link: &Value) -> bool {
        link["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == "UP"))
    }

    fn exists_on_host(name: &str) -> bool {
        Path::new("/sys/class/net").join(name).exists()
    }

    #[test]
    fn prefixes_parse_as_ip_addr_add_takes_them() {
        assert_eq!(
            parse_prefix("10.0.0.2/24"),
            Ok(("10.0.0.2".parse().unwrap(), 24))
        );
        assert_eq!(
            parse_prefix("fd00::2/64"),
            Ok(("fd00::2".parse().unwrap(), 64))
        );
        assert_eq!(
            parse_prefix("10.0.0.2"),
            Ok(("10.0.0.2".parse().unwrap(), 32))
        );
        assert_eq!(
            parse_prefix("fd00::2"),
            Ok(("fd00::2".parse().unwrap(), 128))
        );
        for bad in ["10.0.0.2/33", "fd00::2/129", "10.0.0/24", "10.0.0.2/x", ""] {
            assert!(parse_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_extended_acks_text_is_found_after_the_quoted_request() {
        // A capped error: the request's 16-byte header, then
        // NLMSGERR_ATTR_MSG "bad mtu\0" (12 bytes with padding).
        let mut after_code = vec![0u8; NLMSG_HDRLEN];
        after_code[..4].copy_from_slice(&40u32.to_ne_bytes());
        after_code.extend_from_slice(&12u16.to_ne_bytes());
        after_code.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        after_code.extend_from_slice(b"bad mtu\0");
        let capped = NLM_F_ACK_TLVS | NLM_F_CAPPED;
        assert_eq!(
            ext_ack_message(capped, &after_code).as_deref(),
            Some("bad mtu")
        );
        // Without NLM_F_ACK_TLVS there are no attributes to read.
        assert_eq!(ext_ack_message(NLM_F_CAPPED, &after_code), None);
        // Not capped: the whole request (its length in its header) first.
        let mut whole = vec![0u8; 24];
        whole[..4].copy_from_slice(&24u32.to_ne_bytes());
        whole.extend_from_slice(&after_code[NLMSG_HDRLEN..]);
        assert_eq!(
            ext_ack_message(NLM_F_ACK_TLVS, &whole).as_deref(),
            Some("bad mtu")
        );
        // Truncated or empty: nothing, no panic.
        assert_eq!(ext_ack_message(capped, &after_code[..20]), None);
        assert_eq!(ext_ack_message(NLM_F_ACK_TLVS, &[]), None);
    }

    /// The whole attachment (MAC, MTU 1400, IPv4 address, gateway, custom
    /// interface name) is there as `ip` sees it; the kernel's reasons come
    /// back in the errors; deleting the port removes both ends.
    #[test]
    fn a_namespace_is_attached_with_mac_mtu_address_and_gateway() {
        if !have_root() {
            return;
        }
        let (ns, _ns_guard) = netns("a");
        let port = name("ap");
        let _port_guard = IpOnDrop::new(&["link", "del", &port]);
        let att = NetnsAttachment {
            ifname: "eth1".into(),
            ip_address: Some("10.0.0.2/24".into()),
            mac_address: Some("02:00:00:00:0a:02".into()),
            gateway: Some("10.0.0.1".into()),
        };
        create_netns_veth(&port, &ns, &att, Some(1400)).expect("attach");

        let inner = link(Some(&ns), "eth1").expect("eth1 in the namespace");
        assert_eq!(inner["address"], "02:00:00:00:0a:02", "{inner}");
        assert_eq!(inner["mtu"], 1400, "{inner}");
        assert!(is_up(&inner), "{inner}");
        let lo = link(Some(&ns), "lo").expect("lo");
        assert!(is_up(&lo), "{lo}");
        let addrs = ip_json(Some(&ns), &["addr", "show", "dev", "eth1"]);
        let has_addr = addrs[0]["addr_info"].as_array().is_some_and(|a| {
            a.iter()
                .any(|i| i["local"] == "10.0.0.2" && i["prefixlen"] == 24)
        });
        assert!(has_addr, "{addrs}");
        let routes = ip_json(Some(&ns), &["route", "show", "default"]);
        assert_eq!(routes[0]["gateway"], "10.0.0.1", "{routes}");
        assert_eq!(routes[0]["dev"], "eth1", "{routes}");
        let host = link(None, &port).expect("host end");
        assert_eq!(host["mtu"], 1400, "{host}");
        assert!(is_up(&host), "{host}");

        // The kernel's reasons, with the operation and the namespace.
        let handle = Netns::open(&ns).expect("open namespace");
        let mut rtnl = Rtnl::new().expect("socket");
        let e = rtnl.add_veth(&port, "eth1", Some(&handle)).unwrap_err();
        assert!(e.starts_with(&format!("create veth {port} ")), "{e}");
        assert!(e.contains("File exists (os error 17)"), "{e}");
        let mut inside = Rtnl::in_netns(&handle).expect("socket in the namespace");
        let e = inside
            .add_address("eth1", "10.0.0.2".parse().unwrap(), 24)
            .unwrap_err();
        let want = format!("add address 10.0.0.2/24 to eth1 in network namespace {ns}: ");
        assert!(e.starts_with(&want), "{e}");
        assert!(e.contains("File exists (os error 17)"), "{e}");
        let e = inside.set_mtu("eth1", 10).unwrap_err();
        assert!(e.contains("Invalid argument (os error 22)"), "{e}");
        let e = inside.link_index(&port).unwrap_err();
        assert!(e.contains("No such device (os error 19)"), "{e}");
        // The socket in the namespace does not see the host's links, nor
        // the host's socket the namespace's.
        assert!(inside.link_index("eth1").is_ok());
        assert_eq!(rtnl.link_index("eth1").is_ok(), exists_on_host("eth1"));

        delete_veth(&port);
        assert!(!exists_on_host(&port), "host end deleted");
        assert!(link(Some(&ns), "eth1").is_none(), "namespace end deleted");
        let e = rtnl.delete_link(&port).unwrap_err();
        assert!(e.starts_with(&format!("delete link {port}: ")), "{e}");
    }

    /// IPv6 address and gateway, the default interface name, no MAC or
    /// MTU asked for.
    #[test]
    fn a_namespace_is_attached_with_an_ipv6_address_and_gateway() {
        if !have_root() {
            return;
        }
        let (ns, _ns_guard) = netns("b");
        let port = name("bp");
        let _port_guard = IpOnDrop::new(&["link", "del", &port]);
        let att = NetnsAttachment {
            ifname: "eth0".into(),
            ip_address: Some("fd00:6f66::2/64".into()),
            mac_address: None,
            gateway: Some("fd00:6f66::1".into()),
        };
        create_netns_veth(&port, &ns, &att, None).expect("attach");
        let addrs = ip_json(Some(&ns), &["-6", "addr", "show", "dev", "eth0"]);
        let has_addr = addrs[0]["addr_info"].as_array().is_some_and(|a| {
            a.iter()
                .any(|i| i["local"] == "fd00:6f66::2" && i["prefixlen"] == 64)
        });
        assert!(has_addr, "{addrs}");
        let routes = ip_json(Some(&ns), &["-6", "route", "show", "default"]);
        assert_eq!(routes[0]["gateway"], "fd00:6f66::1", "{routes}");
        assert!(is_up(&link(None, &port).expect("host end")));
        delete_veth(&port);
        assert!(!exists_on_host(&port));
        assert!(link(Some(&ns), "eth0").is_none());
    }

    /// A missing namespace is named; a failure after the pair was created
    /// carries the kernel's reason and deletes the pair again.
    #[test]
    fn failed_attachments_say_why_and_leave_nothing_behind() {
        if !have_root() {
            return;
        }
        let (ns, _ns_guard) = netns("c");
        let port = name("cp");
        let _port_guard = IpOnDrop::new(&["link", "del", &port]);
        let plain = NetnsAttachment {
            ifname: "eth0".into(),
            ip_address: None,
            mac_address: None,
            gateway: None,
        };

        let missing = name("none");
        let e = create_netns_veth(&port, &missing, &plain, None).unwrap_err();
        assert_eq!(e, format!("no network namespace named {missing}"));
        assert_eq!(
            Netns::open("../etc").unwrap_err(),
            "no network namespace named ../etc"
        );
        assert!(!exists_on_host(&port));

        // A gateway outside the interface's subnet.
        let unreachable = NetnsAttachment {
            ip_address: Some("10.0.0.2/24".into()),
            gateway: Some("192.0.2.1".into()),
            ..plain.clone()
        };
        let e = create_netns_veth(&port, &ns, &unreachable, None).unwrap_err();
        let want = format!("add default route via 192.0.2.1 in network namespace {ns}: ");
        assert!(e.starts_with(&want), "{e}");
        assert!(e.contains("(os error 101)"), "ENETUNREACH: {e}");
        assert!(!exists_on_host(&port), "rolled back");
        assert!(link(Some(&ns), "eth0").is_none(), "rolled back");

        // A multicast MAC: the kernel refuses it.
        let multicast = NetnsAttachment {
            mac_address: Some("01:00:5e:00:00:01".into()),
            ..plain.clone()
        };
        let e = create_netns_veth(&port, &ns, &multicast, None).unwrap_err();
        assert!(
            e.starts_with("set address 01:00:5e:00:00:01 on eth0"),
            "{e}"
        );
        assert!(e.contains("(os error 99)"), "EADDRNOTAVAIL: {e}");
        assert!(!exists_on_host(&port), "rolled back");

        // Text the kernel never sees.
        let bad_mac = NetnsAttachment {
            mac_address: Some("02:00".into()),
            ..plain.clone()
        };
        let e = create_netns_veth(&port, &ns, &bad_mac, None).unwrap_err();
        assert!(e.contains("not a valid MAC address"), "{e}");
        assert!(!exists_on_host(&port));

        // After all that, a good attachment still works.
        create_netns_veth(&port, &ns, &plain, Some(1400)).expect("attach");
        assert_eq!(link(Some(&ns), "eth0").expect("eth0")["mtu"], 1400);
        delete_veth(&port);
        assert!(!exists_on_host(&port));
    }
}
