//! The value syntax of ovs-vsctl's database commands, so scripts written
//! for Open vSwitch work unchanged: atoms bare or in double quotes (JSON
//! string escapes), sets as `a,b` or `[a, b]`, maps as `{k=v, k2=v2}`, and
//! `COLUMN[:KEY][=VALUE]` arguments; and the same quoting on output
//! (`options: {key="5", remote_ip="10.0.0.2"}`).

use std::collections::BTreeMap;
use std::fmt::Display;

/// Whether OVS would print string `s` in quotes: anything but an
/// identifier-like word (letter or `_` first, then letters, digits, `_`,
/// `-`, `.`), and the words `true` and `false`.
pub fn needs_quotes(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return true,
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        return true;
    }
    s == "true" || s == "false"
}

/// A string atom as OVS prints it.
pub fn quote(s: &str) -> String {
    if needs_quotes(s) {
        serde_json::Value::String(s.to_string()).to_string()
    } else {
        s.to_string()
    }
}

/// A set of strings: `["a", b]`.
pub fn fmt_str_set<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| quote(s)).collect();
    format!("[{}]", items.join(", "))
}

/// A set of numbers: `[10, 20]`.
pub fn fmt_num_set<T: Display>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items.into_iter().map(|n| n.to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// A string map: `{key="5", peer=p1}`.
pub fn fmt_map(map: &BTreeMap<String, String>) -> String {
    let items: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// A map with numeric values: `{rx_bytes=0, rx_packets=0}`.
pub fn fmt_num_map(map: &BTreeMap<String, u64>) -> String {
    let items: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}={v}", quote(k)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// Removes quotes from an atom, if quoted.
pub fn unquote(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.starts_with('"') {
        serde_json::from_str::<String>(s).map_err(|_| format!("{s}: invalid quoted string"))
    } else {
        Ok(s.to_string())
    }
}

/// Byte index of the first `sep` not inside double quotes.
pub fn find_unquoted(s: &str, sep: char) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted && c == sep {
            return Some(i);
        }
    }
    None
}

/// Splits a set or map body on unquoted commas, removing one pair of
/// surrounding brackets (`[]` or `{}`) if present. Empty → no items.
pub fn split_list(s: &str) -> Result<Vec<String>, String> {
    let t = s.trim();
    let body = match (t.chars().next(), t.chars().last()) {
        (Some('['), Some(']')) | (Some('{'), Some('}')) if t.len() >= 2 => &t[1..t.len() - 1],
        _ => t,
    };
    let mut items = Vec::new();
    let mut rest = body;
    loop {
        let (item, more) = match find_unquoted(rest, ',') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let item = item.trim();
        if item.is_empty() {
            if more.is_some() || !items.is_empty() {
                return Err(format!("{s}: syntax error (empty element)"));
            }
        } else {
            items.push(item.to_string());
        }
        match more {
            Some(m) => rest = m,
            None => return Ok(items),
        }
    }
}

/// Parses a set of atoms: `a,b`, `[a, "b"]`, `[]`.
pub fn parse_set(s: &str) -> Result<Vec<String>, String> {
    split_list(s)?.iter().map(|i| unquote(i)).collect()
}

/// Parses a map: `{k=v, k2="v2"}` or `k=v,k2=v2`.
pub fn parse_map(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for item in split_list(s)? {
        let i = find_unquoted(&item, '=')
            .ok_or_else(|| format!("{item}: missing '=' in map element"))?;
        map.insert(unquote(&item[..i])?, unquote(&item[i + 1..])?);
    }
    Ok(map)
}

/// A `COLUMN[:KEY][=VALUE]` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnArg {
    pub column: String,
    pub key: Option<String>,
    pub value: Option<String>,
}

/// Parses `COLUMN[:KEY][=VALUE]`; the key may be quoted.
pub fn parse_column_arg(arg: &str) -> Result<ColumnArg, String> {
    let (lhs, value) = match find_unquoted(arg, '=') {
        Some(i) => (&arg[..i], Some(arg[i + 1..].to_string())),
        None => (arg, None),
    };
    let (column, key) = match lhs.find(':') {
        Some(i) => (&lhs[..i], Some(unquote(&lhs[i + 1..])?)),
        None => (lhs, None),
    };
    if column.is_empty() {
        return Err(format!("{arg}: missing column name"));
    }
    Ok(ColumnArg {
        column: column.to_string(),
        key,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_like_ovs() {
        assert_eq!(quote("patch0"), "patch0");
        assert_eq!(quote("10.0.0.2"), "\"10.0.0.2\"");
        assert_eq!(quote("5"), "\"5\"");
        assert_eq!(quote("flow"), "flow");
        assert_eq!(quote("tcp:1.2.3.4:6653"), "\"tcp:1.2.3.4:6653\"");
        assert_eq!(quote("true"), "\"true\"");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("p 2"), "\"p 2\"");
        let mut m = BTreeMap::new();
        m.insert("remote_ip".to_string(), "10.0.0.2".to_string());
        m.insert("key".to_string(), "5".to_string());
        assert_eq!(fmt_map(&m), "{key=\"5\", remote_ip=\"10.0.0.2\"}");
        assert_eq!(fmt_num_set([10, 20]), "[10, 20]");
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_set("10,20").unwrap(), ["10", "20"]);
        assert_eq!(parse_set("[10, 20]").unwrap(), ["10", "20"]);
        assert!(parse_set("[]").unwrap().is_empty());
        assert!(parse_set("").unwrap().is_empty());
        assert!(parse_set("1,,2").is_err());
        assert_eq!(parse_set("[\"a,b\", c]").unwrap(), ["a,b", "c"]);
        let m = parse_map("{a=1, b=\"x=y\"}").unwrap();
        assert_eq!(m["a"], "1");
        assert_eq!(m["b"], "x=y");
        assert!(parse_map("{a}").is_err());
        assert_eq!(unquote("\"10.0.0.2\"").unwrap(), "10.0.0.2");
        assert!(unquote("\"unterminated").is_err());
        let c = parse_column_arg("options:remote_ip=10.0.0.2").unwrap();
        assert_eq!(c.column, "options");
        assert_eq!(c.key.as_deref(), Some("remote_ip"));
        assert_eq!(c.value.as_deref(), Some("10.0.0.2"));
        let c = parse_column_arg("other-config:datapath-id=00:01").unwrap();
        assert_eq!(c.column, "other-config");
        assert_eq!(c.key.as_deref(), Some("datapath-id"));
        assert_eq!(c.value.as_deref(), Some("00:01"));
        let c = parse_column_arg("tag").unwrap();
        assert_eq!((c.key, c.value), (None, None));
        assert!(parse_column_arg("=1").is_err());
    }
}
