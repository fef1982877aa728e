//! `ofswitch`: the OpenFlow 1.3 software switch (daemon and management CLI).

fn main() {
    println!(
        "ofswitch {}: OpenFlow 1.3 software switch\n\n\
         The daemon, the ovs-vsctl-like and ovs-ofctl-like verbs are coming; \
         see the README for the plan.",
        env!("CARGO_PKG_VERSION")
    );
}
