//! Persistence of the configuration as JSON in `<state_dir>/conf.json`.
//!
//! Saving is atomic: the new content goes to a temporary file in the same
//! directory, is flushed to disk, renamed over `conf.json`, and the
//! directory is flushed, so a crash leaves either the old or the new
//! configuration, never a mix.
//!
//! Loading: a missing file is an empty configuration (first start). A file
//! that cannot be parsed or does not validate is an error naming the file,
//! and the file is left exactly as it is: the daemon must refuse to start
//! rather than start empty, because starting empty would tear down every
//! bridge and the next save would overwrite the only copy. The operator
//! fixes or removes the file and starts again.

use crate::config::model::Config;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The configuration file's name in the state directory.
pub const CONF_FILE: &str = "conf.json";

/// Why the configuration could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{} is not a valid configuration ({detail}); fix or remove it", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// `<state_dir>/conf.json`.
pub fn conf_path(state_dir: &Path) -> PathBuf {
    state_dir.join(CONF_FILE)
}

/// Loads the configuration; a missing file is an empty configuration.
/// Ports without a number (hand-written files) are numbered.
pub fn load(state_dir: &Path) -> Result<Config, StoreError> {
    let path = conf_path(state_dir);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(source) => return Err(StoreError::Read { path, source }),
    };
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.clone(),
        detail,
    };
    let mut config: Config = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    config.assign_ofports().map_err(|e| corrupt(e.0))?;
    config.validate().map_err(|e| corrupt(e.0))?;
    Ok(config)
}

/// Saves the configuration atomically, creating the state directory if
/// needed.
pub fn save(state_dir: &Path, config: &Config) -> Result<(), StoreError> {
    let path = conf_path(state_dir);
    let werr = |source: io::Error| StoreError::Write {
        path: path.clone(),
        source,
    };
    let mut json = serde_json::to_vec_pretty(config).map_err(|e| werr(io::Error::other(e)))?;
    json.push(b'\n');
    fs::create_dir_all(state_dir).map_err(werr)?;
    // Unique per process and call, so concurrent saves never share a file.
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp = state_dir.join(format!(".{CONF_FILE}.tmp.{}.{seq}", std::process::id()));
    let result = write_synced(&tmp, &json)
        .and_then(|()| fs::rename(&tmp, &path))
        .and_then(|()| File::open(state_dir)?.sync_all());
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(werr)
}

fn write_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::runtime::NoRuntime;
    use crate::config::vsctl::execute;

    fn run(cfg: &mut Config, line: &str) {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        execute(cfg, &argv, &NoRuntime).unwrap_or_else(|e| panic!("{line}: {e}"));
    }

    #[test]
    fn missing_file_is_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), Config::default());
        // And a missing state dir too.
        assert_eq!(load(&dir.path().join("nope")).unwrap(), Config::default());
    }

    #[test]
    fn round_trip_keeps_port_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let mut cfg = Config::default();
        run(
            &mut cfg,
            "add-br br0 -- add-port br0 a -- add-port br0 b -- add-port br0 c",
        );
        run(
            &mut cfg,
            "add-port br0 d -- set interface d ofport_request=9",
        );
        run(&mut cfg, "del-port b");
        save(&state, &cfg).unwrap();
        // "Restart": load and keep going.
        let mut again = load(&state).unwrap();
        assert_eq!(again, cfg);
        run(&mut again, "add-port br0 e -- add-port br0 f");
        let b = &again.bridges["br0"];
        let nums: Vec<(&str, u32)> = b
            .ports
            .values()
            .map(|p| (p.name.as_str(), p.ofport))
            .collect();
        assert_eq!(nums, [("a", 1), ("c", 3), ("d", 9), ("e", 2), ("f", 4)]);
        save(&state, &again).unwrap();
        assert_eq!(load(&state).unwrap(), again);
        // No temporary file left behind.
        let names: Vec<_> = fs::read_dir(&state)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [CONF_FILE]);
    }

    #[test]
    fn corrupt_file_is_an_error_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = conf_path(dir.path());
        fs::write(&path, "{ not json").unwrap();
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("conf.json is not a valid configuration"), "{e}");
        assert!(!e.contains('\n'));
        assert_eq!(fs::read_to_string(&path).unwrap(), "{ not json");

        // Valid JSON but an invalid configuration.
        fs::write(
            &path,
            r#"{"bridges":{"br0":{"name":"br0","datapath_id":1,"ports":{"p":{"name":"p","ofport":1,"tag":5000,"interface":{}}}}}}"#,
        )
        .unwrap();
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("4095"), "{e}");
    }

    #[test]
    fn ssl_settings_persist_and_old_files_load() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        fs::write(&key, "pem").unwrap();
        let k = key.display().to_string();
        let mut cfg = Config::default();
        run(&mut cfg, &format!("set-ssl {k} {k} {k}"));
        save(dir.path(), &cfg).unwrap();
        let again = load(dir.path()).unwrap();
        assert_eq!(again.ssl.as_ref().map(|s| &s.ca_cert), Some(&key));
        // A file from before TLS support has no "ssl" key.
        fs::write(conf_path(dir.path()), r#"{"bridges":{}}"#).unwrap();
        assert_eq!(load(dir.path()).unwrap().ssl, None);
    }

    #[test]
    fn hand_written_file_gets_port_numbers() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            conf_path(dir.path()),
            r#"{"bridges":{"br0":{"name":"br0","datapath_id":1,"ports":{"p":{"name":"p","ofport":0,"interface":{"type":"dummy"}}}}}}"#,
        )
        .unwrap();
        assert_eq!(
            load(dir.path()).unwrap().bridges["br0"].ports["p"].ofport,
            1
        );
    }
}
