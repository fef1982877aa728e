#!/usr/bin/env bash
# Two hosts, each with a bridge and four containers, the bridges joined by a VXLAN port with
# remote_ip: every container pings every other, across hosts.
#
#   examples/vxlan-two-hosts/run.sh [--standalone] [--keep]
#
# By default the bundled controller (learning, every port in one VLAN) drives both bridges
# (fail-mode secure: no flow but the controller's). --standalone runs them as Open vSwitch
# users usually do in this setup: no controller, the NORMAL learning switch. --keep leaves the
# topology up and prints how to tear it down.
#
#   host1 (ns) ---- veth underlay 192.168.71.0/24 ---- host2 (ns)
#     ofswitch br0 + vx0 (remote_ip=.2)                   ofswitch br0 + vx0 (remote_ip=.1)
#     c11 c12 c13 c14  10.71.0.11-14/24                   c21 c22 c23 c24  10.71.0.21-24/24
source "$(dirname "$0")/../lib.sh"

example_args "$@"

step "two hosts, each a namespace running its own ofswitch daemon, joined by a veth underlay"
host host1
host host2
link host1 192.168.71.1 host2 192.168.71.2
say "host1 192.168.71.1 <-> host2 192.168.71.2"

step "a bridge on each host, four containers on each (add-netns-port, MTU 1450 for VXLAN's 50 bytes)"
for h in 1 2; do
  ofs host$h vsctl add-br br0
  [ "$MODE" = controller ] && ofs host$h vsctl set-fail-mode br0 secure
  for k in 1 2 3 4; do
    container host$h br0 "c$h$k" "10.71.0.$h$k/24" --mtu=1450
  done
done
say "containers c11..c14 on host1 (10.71.0.11-14), c21..c24 on host2 (10.71.0.21-24)"

step "the VXLAN tunnel: one port on each bridge pointing at the other host"
# The controller carries each VLAN in the tunnel id (VNI), so under it the tunnel takes its key
# from the flow (options:key=flow), as with any controller that sets tun_id; standalone, the
# default key 0 is all there is.
key=()
[ "$MODE" = controller ] && key=(options:key=flow)
show ofs host1 vsctl add-port br0 vx0 -- set interface vx0 type=vxlan options:remote_ip=192.168.71.2 "${key[@]}"
ofs host2 vsctl add-port br0 vx0 -- set interface vx0 type=vxlan options:remote_ip=192.168.71.1 "${key[@]}"

if [ "$MODE" = controller ]; then
  step "the bundled controller on host1, both bridges connect to it over the underlay"
  controller host1 192.168.71.1
  for h in 1 2; do ofs host$h vsctl set-controller br0 tcp:192.168.71.1:6653; done
  wait_resynced 2
  say "both switches connected and resynced"
else
  step "standalone: no controller, each bridge is a learning switch (NORMAL)"
fi
ofs host1 vsctl show | sed 's/^/   /'

step "every container pings every other (56 pairs, one VLAN)"
hosts=()
for h in 1 2; do for k in 1 2 3 4; do hosts+=("c$h$k:10.71.0.$h$k:1"); done; done
ping_matrix "${hosts[@]}"

step "the tunnel carried it"
show ofs host1 vsctl get interface vx0 statistics
echo
echo "vxlan-two-hosts ($MODE): all 56 container pairs reach each other across the VXLAN tunnel"
