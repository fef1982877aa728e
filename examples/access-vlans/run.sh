#!/usr/bin/env bash
# Access ports of VLAN 10 and VLAN 20 on one bridge: four containers in one IP subnet, but a
# container reaches only those of its own VLAN.
#
#   examples/access-vlans/run.sh [--standalone] [--keep]
#
# Standalone: the VLANs are the ports' `tag` (ovs-vsctl set port P tag=10), the NORMAL switch
# keeps them apart. By default: the bundled controller with a policy file (TOML, as
# examples/policy.toml) that puts the same ports in VLAN 10 and 20, no tags on the switch.
#
#   host (ns): ofswitch br0
#     a1 10.72.0.11  a2 10.72.0.12   VLAN 10 (access)
#     b1 10.72.0.21  b2 10.72.0.22   VLAN 20 (access)
source "$(dirname "$0")/../lib.sh"

example_args "$@"

step "a host with bridge br0 and four containers, all in 10.72.0.0/24"
host host
ofs host vsctl add-br br0 -- set bridge br0 other_config:datapath-id=0000000000000072
for c in a1:11 a2:12 b1:21 b2:22; do container host br0 "${c%%:*}" "10.72.0.${c##*:}/24"; done

if [ "$MODE" = controller ]; then
  step "the controller's policy: a1, a2 in VLAN 10; b1, b2 in VLAN 20 (ports by name)"
  cat >"$WORK/policy.toml" <<TOML
[vlans.ten]
vid = 10

[vlans.twenty]
vid = 20

[switches.host]
dpid = 0x72

[switches.host.ports]
${P}a1 = { access = "ten" }
${P}a2 = { access = "ten" }
${P}b1 = { access = "twenty" }
${P}b2 = { access = "twenty" }
TOML
  sed 's/^/     /' "$WORK/policy.toml"
  show "$OFCONTROLLER" check "$WORK/policy.toml"
  controller host 127.0.0.1 --policy "$WORK/policy.toml"
  controlled host 127.0.0.1 br0
  wait_resynced 1
else
  step "standalone: the VLANs are the ports' tags"
  for c in a1 a2; do show ofs host vsctl set port "$P$c" tag=10; done
  for c in b1 b2; do show ofs host vsctl set port "$P$c" tag=20; done
fi
ofs host vsctl show | sed 's/^/   /'

step "ping within a VLAN reaches, across VLANs does not (12 pairs)"
ping_matrix a1:10.72.0.11:10 a2:10.72.0.12:10 b1:10.72.0.21:20 b2:10.72.0.22:20

if [ "$MODE" = controller ]; then
  step "the controller's view"
  show "$OFCONTROLLER" status --control "$WORK/ofcontroller.ctl"
fi
echo
echo "access-vlans ($MODE): in one subnet on one bridge, VLAN 10 and VLAN 20 access ports reach only their own VLAN (4 pairs reach, 8 do not)"
