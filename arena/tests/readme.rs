//! Every `arena` command line in the README is a real one: each is checked against the binary's
//! flags (`ARENA_CHECK_COMMAND_LINE=1` parses and stops), and those of the sections on the command,
//! tournaments and ratings are run as written, in order, in a scratch directory.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One command line of a `sh` block: its section, the words after `arena`, and the line as written.
#[derive(Debug)]
struct Documented {
    section: String,
    words: Vec<String>,
    line: String,
}

/// Splits a shell line into words: single and double quotes, backslash escapes, `$M` and `~`
/// expanded from `vars`, a `#` comment at the start of a word ends the line.
fn shell_words(line: &str, vars: &[(String, String)]) -> Vec<String> {
    let home = std::env::var("HOME").unwrap_or_default();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('\''), c) => word.push(c),
            (_, '\\') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            (_, '$') => {
                let name: String = std::iter::from_fn(|| chars.next_if(|c| c.is_alphanumeric() || *c == '_')).collect();
                let value = vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).unwrap_or_default();
                word.push_str(&value);
                in_word = true;
            }
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, '~') if !in_word => {
                word.push_str(&home);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The `arena` command lines of the README's `sh` blocks, continuation lines joined.
fn documented(readme: &str, vars: &[(String, String)]) -> Vec<Documented> {
    let mut found = Vec::new();
    let mut section = String::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if !in_sh && line.starts_with('#') {
            section = line.trim_start_matches('#').trim().to_string();
        }
        if line.trim_start().starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        if let Some(start) = line.strip_suffix('\\') {
            pending.push_str(start);
            continue;
        }
        let full = std::mem::take(&mut pending) + line;
        let words = shell_words(&full, vars);
        let rest = match words.first().map(String::as_str) {
            Some("arena" | "target/release/arena") => words[1..].to_vec(),
            Some("cargo") if words.iter().any(|w| w == "--") && words.iter().any(|w| w == "arena") => {
                words.iter().skip_while(|w| *w != "--").skip(1).cloned().collect()
            }
            _ => continue,
        };
        // `arena tournament ... --db runs/t.db --resume` stands for "the same command again".
        if rest.iter().any(|w| w == "...") {
            continue;
        }
        found.push(Documented { section: section.clone(), words: rest, line: full.trim().to_string() });
    }
    found
}

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_arena"))
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn readme() -> String {
    std::fs::read_to_string(repository().join("README.md")).unwrap_or_else(|e| panic!("README.md: {e}"))
}

#[test]
fn every_readme_command_line_uses_real_flags() {
    let vars = vec![("M".to_string(), "model.gguf".to_string())];
    let commands = documented(&readme(), &vars);
    assert!(commands.len() > 40, "found only {} command lines", commands.len());
    let mut wrong = Vec::new();
    for command in &commands {
        let output = Command::new(binary())
            .args(&command.words)
            .env("ARENA_CHECK_COMMAND_LINE", "1")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        if !output.status.success() {
            wrong.push(format!("{}\n  {}", command.line, String::from_utf8_lossy(&output.stderr).trim()));
        }
    }
    assert!(wrong.is_empty(), "README command lines the binary refuses:\n{}", wrong.join("\n"));
}

#[test]
fn the_readme_s_tournament_and_ratings_commands_run_as_written() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = dir.path();
    // What the commands read: the example bot, the config file the README shows, results files.
    std::fs::create_dir_all(root.join("examples")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(repository().join("examples/random_bot.py"), root.join("examples/random_bot.py"))
        .unwrap_or_else(|e| panic!("{e}"));
    let text = readme();
    let config = text
        .split("```toml\n")
        .map(|block| block.split("```").next().unwrap_or_default())
        .find(|block| block.contains("schedule = \"swiss\""))
        .unwrap_or_else(|| panic!("the README's tournament config"));
    std::fs::write(root.join("tournament.toml"), config.replace("./my_bot", "python3 examples/random_bot.py"))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(root.join("games.csv"), "white,black,result\na,b,1\nb,a,0.5\na,c,0\nc,b,1-0\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let commands = documented(&text, &[]);
    let sections = ["The `arena` command", "Matches and tournaments", "Ratings"];
    let mut ran = 0;
    for command in commands.iter().filter(|c| sections.contains(&c.section.as_str())) {
        // Commands of other sections' files (a language model, an evolve run) are checked above.
        if command.words.iter().any(|w| w.contains("runs/default") || w.contains(".gguf") || w == "battles.jsonl") {
            continue;
        }
        let output =
            Command::new(binary()).args(&command.words).current_dir(root).output().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            output.status.success(),
            "{}\n{}{}",
            command.line,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 15, "ran only {ran} commands");
}

#[test]
fn shell_words_split_as_a_shell_does() {
    let vars = vec![("M".to_string(), "/m.gguf".to_string())];
    assert_eq!(
        shell_words(r#"play --agents "llm(model=$M,t=0)" 'cmd(program="x y")' a\ b # note"#, &vars),
        vec!["play", "--agents", "llm(model=/m.gguf,t=0)", r#"cmd(program="x y")"#, "a b"]
    );
    let readme =
        "# S\n```sh\narena play --game x \\\n    --agents a b   # c\narena tournament ... --resume\necho no\n```\n";
    let found = documented(readme, &[]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].words, vec!["play", "--game", "x", "--agents", "a", "b"]);
    assert_eq!(found[0].section, "S");
}
