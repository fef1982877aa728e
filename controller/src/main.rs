//! `ofcontroller`: a minimal, fast OpenFlow 1.3 controller.

fn main() {
    println!(
        "ofcontroller {}: OpenFlow 1.3 controller (L2 learning, VLAN isolation)\n\n\
         Coming soon; see the README for the plan.",
        env!("CARGO_PKG_VERSION")
    );
}
