#!/usr/bin/env bash
# Two hosts joined by a GRE tunnel port, switched to VXLAN while a ping runs, without restarting
# anything: one ovs-vsctl transaction on each host replaces the GRE port with a VXLAN one.
#
#   examples/gre-to-vxlan/run.sh [--standalone] [--keep]
#
# By default the bundled controller (learning, no policy: ports named gre*/vx* are tunnels)
# drives both bridges, the tunnels with options:key=flow (the VLAN travels in the key/VNI);
# --standalone: both NORMAL, default key 0.
#
#   host1 (ns) ---- veth underlay 192.168.74.0/24 ---- host2 (ns)
#     br0 + gre0 (remote_ip=.2)  ==then==  br0 + vx0     br0 + gre0 ==then== br0 + vx0
#     c1 10.74.0.1/24 (MTU 1400)                        c2 10.74.0.2/24 (MTU 1400)
source "$(dirname "$0")/../lib.sh"

example_args "$@"

step "two hosts joined by a veth underlay, a bridge and a container on each"
host host1
host host2
link host1 192.168.74.1 host2 192.168.74.2
for h in 1 2; do
  ofs host$h vsctl add-br br0
  container host$h br0 "c$h" "10.74.0.$h/24" --mtu=1400
done
key=()
[ "$MODE" = controller ] && key=(options:key=flow)

step "a GRE port on each bridge pointing at the other host"
show ofs host1 vsctl add-port br0 gre0 -- set interface gre0 type=gre options:remote_ip=192.168.74.2 "${key[@]}"
ofs host2 vsctl add-port br0 gre0 -- set interface gre0 type=gre options:remote_ip=192.168.74.1 "${key[@]}"
if [ "$MODE" = controller ]; then
  controller host1 192.168.74.1
  controlled host1 192.168.74.1 br0
  controlled host2 192.168.74.1 br0
  wait_resynced 2
  say "the bundled controller on host1 drives both bridges"
fi
expect_ping c1 10.74.0.2 ok
show ofs host1 vsctl get interface gre0 statistics

step "a ping every 20 ms from c1 to c2 while both hosts switch from GRE to VXLAN"
at c1 ping -i 0.02 -w 6 -W 1 10.74.0.2 >"$WORK/ping.log" 2>&1 &
PING=$!
EX_PIDS+=($PING)
sleep 1.5
for h in 1 2; do
  peer=192.168.74.$((3 - h))
  show ofs host$h vsctl del-port br0 gre0 -- add-port br0 vx0 -- set interface vx0 type=vxlan options:remote_ip=$peer "${key[@]}"
done
wait "$PING" || true
stats=$(grep -E "packets transmitted" "$WORK/ping.log") || die "no ping summary: $(cat "$WORK/ping.log")"
say "the ping: $stats"
sent=$(awk '{print $1}' <<<"$stats")
got=$(awk '{print $4}' <<<"$stats")
lost=$((sent - got))
say "lost during the switch-over: $lost of $sent (about $((lost * 20)) ms at one ping per 20 ms)"
[ "$got" -gt $((sent / 2)) ] || die "the ping did not come back after the switch-over"

step "the traffic now goes through the VXLAN port; the GRE port is gone"
expect_ping c1 10.74.0.2 ok
expect_ping c2 10.74.0.1 ok
show ofs host1 vsctl list-ports br0
ofs host1 vsctl list-ports br0 | grep -qx gre0 && die "gre0 is still on host1's br0"
before=$(ofs host1 vsctl get interface vx0 statistics:tx_packets)
at c1 ping -c 20 -i 0.02 -q 10.74.0.2 >/dev/null || die "c1 -> c2 over VXLAN lost pings"
after=$(ofs host1 vsctl get interface vx0 statistics:tx_packets)
show ofs host1 vsctl get interface vx0 statistics
say "vx0 tx_packets $before -> $after over 20 pings"
[ "$after" -ge $((before + 20)) ] || die "vx0's counters did not rise with the pings"

echo
echo "gre-to-vxlan ($MODE): c1 and c2 reached each other over GRE, then over VXLAN after a live switch-over (no restart) that lost $lost of $sent pings at 20 ms"
