#!/usr/bin/env bash
# Two bridges in one daemon joined by a pair of patch ports (type=patch, options:peer=...), a
# container on each: they reach each other through the patch.
#
#   examples/patch-ports/run.sh [--standalone] [--keep]
#
# By default the bundled controller (learning only, no policy: every port, the patch ports
# included, an access port of VLAN 1) drives both bridges; --standalone: both NORMAL.
#
#   host (ns): ofswitch
#     br0 [c0 10.75.0.10/24] patch-br1 ==== patch-br0 br1 [c1 10.75.0.11/24]
source "$(dirname "$0")/../lib.sh"

example_args "$@"

step "a host with two bridges, br0 and br1, a container on each"
host host
ofs host vsctl add-br br0 -- add-br br1
container host br0 c0 10.75.0.10/24
container host br1 c1 10.75.0.11/24

step "without a link between the bridges, the containers are apart"
expect_ping c0 10.75.0.11 fail

step "a patch port on each bridge, each the other's peer"
show ofs host vsctl add-port br0 patch-br1 -- set interface patch-br1 type=patch options:peer=patch-br0
show ofs host vsctl add-port br1 patch-br0 -- set interface patch-br0 type=patch options:peer=patch-br1
if [ "$MODE" = controller ]; then
  step "the bundled controller drives both bridges"
  controller host 127.0.0.1
  controlled host 127.0.0.1 br0 br1
  wait_resynced 2
fi
ofs host vsctl show | sed 's/^/   /'

step "the containers reach each other through the patch"
expect_ping c0 10.75.0.11 ok
expect_ping c1 10.75.0.10 ok
show at c0 ping -c 3 -i 0.2 -q 10.75.0.11
show ofs host vsctl get interface patch-br1 statistics
rx=$(ofs host vsctl get interface patch-br1 statistics:rx_packets)
tx=$(ofs host vsctl get interface patch-br1 statistics:tx_packets)
[ "$rx" -gt 0 ] && [ "$tx" -gt 0 ] || die "the patch port carried nothing (rx $rx, tx $tx)"
if [ "$MODE" = controller ]; then
  show "$OFCONTROLLER" status --control "$WORK/ofcontroller.ctl"
fi

step "removing one end cuts the link"
show ofs host vsctl del-port br0 patch-br1
expect_ping c0 10.75.0.11 fail

echo
echo "patch-ports ($MODE): containers on br0 and br1 reached each other only while the patch ports joined the bridges ($tx frames out of br0 by the patch, $rx back)"
