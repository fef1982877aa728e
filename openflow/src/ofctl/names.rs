//! Port and table names in flow text, as `ovs-ofctl --names` shows them and
//! as ovs-ofctl accepts them in place of numbers (`table=eth_src`,
//! `goto_table:flood`).
//!
//! Where the names come from: the switch itself. ovs-ofctl asks it for
//! PORT_DESC (port names) and TABLE_FEATURES (table names) and keeps a map
//! of each (`struct namemap` in Open vSwitch 3.1's lib/namemap.c); a
//! controller names its tables with a TABLE_FEATURES set. [`NameMap`] is
//! that map with the same rules:
//!
//! - a table with an empty name has none (numbers print);
//! - a name used by two numbers, or a number given two names, is ambiguous
//!   and neither is used (the number prints, the name does not parse);
//! - a name prints bare when it is ASCII letters and digits starting with a
//!   letter, and otherwise as a JSON string in double quotes, so
//!   `eth_src` prints as `"eth_src"` (`namemap_put_name`);
//! - a number always parses as a number, so a table named `5` can only be
//!   reached by number; a quoted name is unquoted before the look-up.

use std::fmt::Write;

/// Numbers and the names a switch gave them. See the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameMap {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    number: u32,
    name: String,
    /// The name or the number also belongs to another entry.
    duplicate: bool,
}

impl NameMap {
    pub fn new() -> NameMap {
        NameMap::default()
    }

    /// Adds `number` called `name` (`namemap_put`): an empty name adds
    /// nothing; a clash makes the earlier entry ambiguous.
    pub fn put(&mut self, number: u32, name: &str) {
        if name.is_empty() {
            return;
        }
        if let Some(e) = self.entries.iter_mut().find(|e| e.name == name) {
            if e.number != number {
                e.duplicate = true;
            }
            return;
        }
        if let Some(e) = self.entries.iter_mut().find(|e| e.number == number) {
            e.duplicate = true;
            return;
        }
        self.entries.push(Entry {
            number,
            name: name.to_string(),
            duplicate: false,
        });
    }

    /// The name of `number`, if it has one that is not ambiguous.
    pub fn name(&self, number: u32) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.number == number && !e.duplicate)
            .map(|e| e.name.as_str())
    }

    /// The number called `name`, if the name is not ambiguous.
    pub fn number(&self, name: &str) -> Option<u32> {
        self.entries
            .iter()
            .find(|e| e.name == name && !e.duplicate)
            .map(|e| e.number)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `number` as ovs-ofctl prints it: its name (quoted if need be) or
    /// the number in decimal.
    pub fn format(&self, number: u32) -> String {
        match self.name(number) {
            Some(n) => quote(n),
            None => number.to_string(),
        }
    }

    /// The number a name written in flow text stands for: the name bare or
    /// in JSON double quotes (`ofputil_table_from_string` once the text is
    /// known not to be a number).
    pub fn lookup(&self, text: &str) -> Option<u32> {
        if text.len() > 1 && text.starts_with('"') && text.ends_with('"') {
            self.number(&unescape(&text[1..text.len() - 1])?)
        } else {
            self.number(text)
        }
    }
}

/// The names a dump prints: ports from PORT_DESC, tables from
/// TABLE_FEATURES.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub ports: NameMap,
    pub tables: NameMap,
}

/// Whether a name must be quoted: anything but an ASCII letter followed by
/// ASCII letters and digits (`name_needs_quotes`).
pub fn needs_quotes(name: &str) -> bool {
    let mut b = name.bytes();
    !(b.next().is_some_and(|c| c.is_ascii_alphabetic()) && b.all(|c| c.is_ascii_alphanumeric()))
}

/// A name as ovs-ofctl prints it: bare, or as a JSON string
/// (`json_string_escape`).
pub fn quote(name: &str) -> String {
    if !needs_quotes(name) {
        return name.to_string();
    }
    let mut s = String::with_capacity(name.len() + 2);
    s.push('"');
    for c in name.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\u{8}' => s.push_str("\\b"),
            '\u{c}' => s.push_str("\\f"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", u32::from(c));
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// The inside of a JSON string, unescaped; `None` if an escape is bad.
fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match it.next()? {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hex: String = it.by_ref().take(4).collect();
                if hex.len() != 4 {
                    return None;
                }
                char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
            }
            _ => return None,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_ovs() {
        assert_eq!(quote("vlan"), "vlan");
        assert_eq!(quote("flood2"), "flood2");
        assert_eq!(quote("eth_src"), "\"eth_src\"");
        assert_eq!(quote("2nd"), "\"2nd\"");
        assert_eq!(quote("a-b"), "\"a-b\"");
        assert_eq!(quote("say \"hi\"\\\n"), "\"say \\\"hi\\\"\\\\\\n\"");
        assert_eq!(quote("\u{1}"), "\"\\u0001\"");
        assert_eq!(quote("é"), "\"é\"");
    }

    #[test]
    fn ambiguous_names_and_numbers_are_not_used() {
        let mut m = NameMap::new();
        m.put(0, "vlan");
        m.put(1, "eth_src");
        m.put(2, "");
        m.put(3, "dup");
        m.put(4, "dup");
        m.put(5, "five");
        m.put(5, "cinq");
        m.put(0, "vlan");
        assert_eq!(m.name(0), Some("vlan"));
        assert_eq!(m.format(1), "\"eth_src\"");
        assert_eq!(m.format(2), "2");
        assert_eq!((m.name(3), m.name(4), m.number("dup")), (None, None, None));
        assert_eq!(
            (m.name(5), m.number("five"), m.number("cinq")),
            (None, None, None)
        );
        assert_eq!(m.lookup("eth_src"), Some(1));
        assert_eq!(m.lookup("\"eth_src\""), Some(1));
        assert_eq!(m.lookup("\"eth\\u005fsrc\""), Some(1));
        assert_eq!(m.lookup("\"eth_src"), None);
        assert_eq!(m.lookup("\"bad\\q\""), None);
        assert_eq!(m.lookup("nosuch"), None);
    }
}
