#!/usr/bin/env bash
# Three hosts in a full mesh of GRE tunnels, two containers on each at MTU 1462: no broadcast
# storm, every container pings every other, iperf3 runs across the mesh, and a frame too big for
# the container MTU never gets through truncated.
#
#   examples/gre-mesh/run.sh [--stp] [--keep]
#
# By default the bundled controller (on host1, reached over the underlay) drives the three
# bridges (fail-mode secure). A mesh of tunnels is a loop; the controller never floods from one
# tunnel into another (split horizon), so there is no storm. It carries the VLAN in the GRE key,
# so the tunnels take options:key=flow. --stp: exactly as the Open vSwitch tutorial does it,
# standalone bridges (NORMAL) with `set bridge br0 stp_enable=true` breaking the loop, no key.
# --keep leaves the topology up and prints how to tear it down.
#
#                       hub (ns, routes between the three links)
#         192.168.81.0/24 /          | 192.168.82.0/24   \ 192.168.83.0/24
#     host1 (ns) .1          host2 (ns) .1             host3 (ns) .1
#     br0: gre2 gre3         br0: gre1 gre3            br0: gre1 gre2
#     c11 c12                c21 c22                   c31 c32     10.73.0.<host><n>/24, MTU 1462
#      ^----------------------- GRE full mesh over the hub -----------------------^
source "$(dirname "$0")/../lib.sh"

modes controller --stp=stp -- "$@"

MTU=1462
step "three hosts, each a namespace with its own ofswitch daemon, routed through a hub"
netns hub
at hub sysctl -qw net.ipv4.ip_forward=1
for h in 1 2 3; do
  host "host$h"
  link "host$h" "192.168.8$h.1" hub "192.168.8$h.254"
  at "host$h" ip route add 192.168.80.0/20 via "192.168.8$h.254"
done
say "host1 192.168.81.1, host2 192.168.82.1, host3 192.168.83.1; underlay MTU 1500"

step "a bridge on each host, two containers on each (MTU $MTU)"
say "GRE costs outer IP 20 + GRE 4 + inner Ethernet 14 = 38 bytes: 1500 - 38 = 1462."
if [ "$MODE" = controller ]; then
  say "With a key (key=flow, as the controller needs) GRE is 8 bytes, so a full 1462-byte packet"
  say "makes a 1504-byte outer packet: ofswitch sends it through the kernel's raw GRE socket, which"
  say "fragments it (DF clear) and the far end reassembles it: nothing is lost or cut, it costs a"
  say "fragment. (1458 would avoid even that.)"
else
  say "Without a key (standalone, as in the tutorial) a full 1462-byte packet fills 1500 exactly."
fi
for h in 1 2 3; do
  ofs "host$h" vsctl add-br br0
  [ "$MODE" = controller ] && ofs "host$h" vsctl set-fail-mode br0 secure
  for k in 1 2; do container "host$h" br0 "c$h$k" "10.73.0.$h$k/24" --mtu=$MTU; done
done

step "the GRE mesh: on each host a port to each of the other two"
key=()
[ "$MODE" = controller ] && key=(options:key=flow)
for h in 1 2 3; do
  for r in 1 2 3; do
    [ "$h" = "$r" ] && continue
    cmd=(ofs "host$h" vsctl add-port br0 "gre$r" -- set interface "gre$r" type=gre "options:remote_ip=192.168.8$r.1" "${key[@]}")
    if [ "$h" = 1 ]; then show "${cmd[@]}"; else "${cmd[@]}"; fi
  done
done

if [ "$MODE" = controller ]; then
  step "the bundled controller on host1, the three bridges connect to it over the underlay"
  controller host1 192.168.81.1
  for h in 1 2 3; do ofs "host$h" vsctl set-controller br0 tcp:192.168.81.1:6653; done
  wait_resynced 3
  say "three switches connected and resynced"
else
  step "standalone bridges with STP, as the Open vSwitch tutorial does"
  for h in 1 2 3; do
    cmd=(ofs "host$h" vsctl set bridge br0 stp_enable=true)
    if [ "$h" = 1 ]; then show "${cmd[@]}"; else "${cmd[@]}"; fi
    # Shorter timers than 802.1D's 15 s forward delay, where the switch supports them.
    ofs "host$h" vsctl set bridge br0 other_config:stp-forward-delay=4 other_config:stp-hello-time=1 \
      other_config:stp-max-age=6 2>/dev/null || true
  done
  say "waiting for STP to converge (up to 40 s): c11 must reach c21 and c31"
  t0=$SECONDS
  until at c11 ping -c 1 -W 1 10.73.0.21 >/dev/null 2>&1 && at c11 ping -c 1 -W 1 10.73.0.31 >/dev/null 2>&1; do
    [ $((SECONDS - t0)) -lt 40 ] || die "STP did not converge in 40 s"
    sleep 1
  done
  say "converged after $((SECONDS - t0)) s"
fi
ofs host1 vsctl show | sed 's/^/   /'

# tunnel_tx: the sum of tx_packets over the six tunnel ports.
tunnel_tx() {
  local h r sum=0 n
  for h in 1 2 3; do
    for r in 1 2 3; do
      [ "$h" = "$r" ] && continue
      n=$(ofs "host$h" vsctl get interface "gre$r" statistics | grep -o 'tx_packets=[0-9]*' | cut -d= -f2)
      sum=$((sum + n))
    done
  done
  echo "$sum"
}

step "no broadcast storm: 5 s of broadcasts from c11 (a broadcast ping and ARP for a missing address)"
before=$(tunnel_tx)
at c11 ping -b -c 25 -i 0.2 -W 1 10.73.0.255 >/dev/null 2>&1 || true &
bpid=$!
at c12 ping -c 5 -W 1 10.73.0.99 >/dev/null 2>&1 || true
wait "$bpid" || true
after=$(tunnel_tx)
# Each broadcast leaves host1 by its two tunnels and goes no further: 2 x (25 + a few ARPs), plus
# the new containers' own IPv6 chatter (DAD, MLD, router solicitations) flooded the same way. A
# loop would multiply every one of them without end: thousands a second.
bound=400
say "tunnel tx_packets (all six ports): $before before, $after after: $((after - before)) (bound $bound)"
[ $((after - before)) -le $bound ] || die "broadcast storm: $((after - before)) tunnel packets for ~30 broadcasts"

step "every container pings every other (30 pairs)"
hosts=()
for h in 1 2 3; do for k in 1 2; do hosts+=("c$h$k:10.73.0.$h$k:1"); done; done
ping_matrix "${hosts[@]}"

step "a full-size packet crosses a tunnel whole; a bigger one is refused or dropped and counted, never cut"
show at c11 ping -c 2 -W 2 -M do -s $((MTU - 28)) 10.73.0.21
at c11 ping -c 2 -W 2 -M do -s $((MTU - 28)) 10.73.0.21 >/dev/null || die "a $MTU-byte packet did not cross"
if at c11 ping -c 1 -W 1 -M do -s $((MTU - 27)) 10.73.0.21 >/dev/null 2>&1; then
  die "a $((MTU + 1))-byte packet crossed an MTU-$MTU link"
fi
say "ping -M do -s $((MTU - 27)): refused (message too long), as it must be"
# A sender with a larger MTU than the far container (its veth pair raised to 1500 at both ends):
# the frame crosses the tunnel but cannot
# leave by an MTU-1462 port; the switch drops it and counts it there, it never cuts it.
say "c21 raised to MTU 1500 sends 1500-byte packets to c11 (MTU $MTU): dropped at c11's port, counted"
at c21 ip link set eth0 mtu 1500
at host2 ip link set "${P}c21" mtu 1500
port_drops() { ofs host1 vsctl get interface "${P}c11" statistics | grep -Eo 'tx_(dropped|errors)=[0-9]+' | awk -F= '{ n += $2 } END { print n + 0 }'; }
d0=$(port_drops)
if at c21 ping -c 3 -i 0.2 -W 1 -M do -s 1472 10.73.0.11 >/dev/null 2>&1; then
  die "a 1500-byte packet reached c11 through an MTU-$MTU port"
fi
d1=$(port_drops)
at c21 ip link set eth0 mtu $MTU
at host2 ip link set "${P}c21" mtu $MTU
show ofs host1 vsctl get interface "${P}c11" statistics
say "c11's port: tx_dropped + tx_errors $d0 -> $d1"
[ "$d1" -ge $((d0 + 3)) ] || die "the too-big frames were not counted at c11's port"

step "iperf3 across the mesh: c11 (host1) -> c31 (host3), 3 s"
iperf3_run c11 c31 10.73.0.31 3

step "the tunnels carried it, nothing dropped or cut"
show ofs host1 vsctl get interface gre3 statistics
for h in 1 2 3; do
  for r in 1 2 3; do
    [ "$h" = "$r" ] && continue
    s=$(ofs "host$h" vsctl get interface "gre$r" statistics)
    case $s in *tx_dropped=0,*tx_errors=0*) ;; *) die "host$h gre$r dropped: $s" ;; esac
  done
done
echo
echo "gre-mesh ($MODE): 3 hosts in a GRE mesh, no storm ($((after - before)) tunnel packets for 5 s of broadcasts), all 30 pairs ping, $MTU-byte packets cross whole, iperf3 $IPERF_MBITS Mbit/s host1 -> host3"
