#!/usr/bin/env bash
# The bridge's internal port carrying the host's management IP: the host reaches its containers
# through it, as with `ip addr add ... dev br0` on an Open vSwitch host.
#
#   examples/mgmt-port/run.sh [--standalone] [--keep]
#
# By default the bundled controller (learning, every port in one VLAN, the bridge's LOCAL port
# included) drives the bridge (fail-mode secure). --standalone: no controller, the NORMAL
# learning switch. --keep leaves the topology up and prints how to tear it down.
#
#   host (ns): ofswitch daemon, bridge br0
#     br0  (internal port: a TAP in the host namespace)  10.72.0.1/24   <- management IP
#      |-- c1 (container ns, eth0)                       10.72.0.11/24
#      `-- c2 (container ns, eth0)                       10.72.0.12/24
source "$(dirname "$0")/../lib.sh"

modes controller --standalone=standalone -- "$@"

step "a host: a namespace running its own ofswitch daemon, with a bridge br0"
host host
ofs host vsctl add-br br0
[ "$MODE" = controller ] && ofs host vsctl set-fail-mode br0 secure
say "br0's internal port is a TAP named br0 in the host namespace:"
show at host ip -br link show br0

step "the host's management IP on the internal port"
show at host ip addr add 10.72.0.1/24 dev br0
show at host ip link set br0 up

step "two containers on the bridge, in the management subnet"
container host br0 c1 10.72.0.11/24
container host br0 c2 10.72.0.12/24
say "c1 10.72.0.11, c2 10.72.0.12"

if [ "$MODE" = controller ]; then
  step "the bundled controller in the host namespace (its loopback), the bridge connects to it"
  controller host 127.0.0.1
  ofs host vsctl set-controller br0 tcp:127.0.0.1:6653
  wait_resynced 1
  say "connected and resynced; the controller sees the ports (LOCAL is br0, in VLAN 1 too):"
  "$OFCONTROLLER" status --control "$WORK/ofcontroller.ctl" | sed 's/^/     /'
else
  step "standalone: no controller, the bridge is a learning switch (NORMAL)"
fi
ofs host vsctl show | sed 's/^/   /'

step "the host reaches each container through br0, and a container reaches the host"
# The host is not a container: its pings go through `at host` like the others'.
ping_matrix host:10.72.0.1:1 c1:10.72.0.11:1 c2:10.72.0.12:1

step "iperf3 from the host to c1 for 3 s, through the internal port"
iperf3_run host c1 10.72.0.11 3

step "the internal port carried it"
show ofs host vsctl get interface br0 statistics
echo
echo "mgmt-port ($MODE): the host's management IP on br0 reaches both containers (and they it), iperf3 $IPERF_MBITS Mbit/s host -> container"
