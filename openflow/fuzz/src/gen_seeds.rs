//! Writes the seed corpora for the fuzz targets from `openflow::samples`:
//! one file per sample message / match / action / instruction, under
//! `<dir>/<target>/seed-*` (default dir: `corpus/` next to this crate's
//! Cargo.toml). Existing seed files are overwritten; inputs libFuzzer has
//! added to the corpus are left alone.
//!
//! Usage: cargo run --example gen_seeds [-- DIR]

use openflow::message::msg_type;
use openflow::samples;
use openflow::{Action, Instruction};
use std::path::{Path, PathBuf};
use std::{env, fs, io};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(name), bytes)
}

fn main() -> io::Result<()> {
    let root = env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let mut counts = Vec::new();

    // decode_message: every message type and every multipart body.
    let msgs: Vec<Vec<u8>> = samples::all_messages()
        .iter()
        .map(|m| m.to_bytes())
        .collect();
    let dir = root.join("decode_message");
    for (i, b) in msgs.iter().enumerate() {
        let name = msg_type::name(b[1])
            .trim_start_matches("OFPT_")
            .to_lowercase();
        write(&dir, &format!("seed-{i:03}-{name}"), b)?;
    }
    counts.push(("decode_message", msgs.len()));

    // framer: [limit selector, chunk seed] + stream. Each message alone, a
    // few back to back, and the whole sample set as one stream.
    let dir = root.join("framer");
    let mut n = 0;
    for (i, b) in msgs.iter().enumerate() {
        write(
            &dir,
            &format!("seed-{i:03}"),
            &[&[0u8, i as u8][..], b].concat(),
        )?;
        n += 1;
    }
    for (i, w) in msgs.windows(3).enumerate().step_by(5) {
        write(
            &dir,
            &format!("seed-run-{i:03}"),
            &[&[0u8, 7][..], &w.concat()].concat(),
        )?;
        n += 1;
    }
    write(&dir, "seed-all", &[&[0u8, 3][..], &msgs.concat()].concat())?;
    // A too-short length and a length above a small limit.
    write(&dir, "seed-short", &[0, 1, 4, 0, 0, 7, 0, 0, 0, 0])?;
    write(&dir, "seed-limit", &[1, 1, 4, 0, 0, 200, 0, 0, 0, 0])?;
    counts.push(("framer", n + 3));

    // decode_match: every sample match.
    let dir = root.join("decode_match");
    let matches = samples::matches();
    for (i, m) in matches.iter().enumerate() {
        let mut b = Vec::new();
        m.encode(&mut b);
        write(&dir, &format!("seed-{i:03}"), &b)?;
    }
    counts.push(("decode_match", matches.len()));

    // decode_actions: byte 0 even = action list, odd = instruction list.
    let dir = root.join("decode_actions");
    let actions = samples::actions();
    let instructions = samples::instructions();
    for (i, a) in actions.iter().enumerate() {
        let mut b = vec![0u8];
        a.encode(&mut b);
        write(&dir, &format!("seed-action-{i:03}"), &b)?;
    }
    let mut b = vec![0u8];
    Action::encode_list(&actions, &mut b);
    write(&dir, "seed-action-all", &b)?;
    for (i, ins) in instructions.iter().enumerate() {
        let mut b = vec![1u8];
        ins.encode(&mut b);
        write(&dir, &format!("seed-instruction-{i:03}"), &b)?;
    }
    let mut b = vec![1u8];
    Instruction::encode_list(&instructions, &mut b);
    write(&dir, "seed-instruction-all", &b)?;
    counts.push(("decode_actions", actions.len() + instructions.len() + 2));

    for (t, n) in counts {
        println!("{n:4} seeds -> {}", root.join(t).display());
    }
    Ok(())
}
