//! Printing flow statistics as `ovs-ofctl -O OpenFlow13 dump-flows` does.
