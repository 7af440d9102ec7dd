//! Interpreters named by bare name in a suite's commands (`python3`) are resolved once per
//! campaign to the executable they run (`sys.executable`), so a shim on `PATH` (pyenv's is a
//! shell script) is paid once, not per command; the manifest records what each became.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Run with `-S`: `site` (and whatever a `.pth` file imports) changes neither answer, and the
/// probe is on the way to a campaign's first round. `sys.version` starts with the version.
const PROBE: &str = "import sys; print(sys.executable); print(sys.version.split()[0])";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Interpreter {
    /// The word in the suite's command.
    pub requested: String,
    pub path: PathBuf,
    pub version: String,
}

/// `python`, `python3`, `python3.12`: names a suite may leave to `PATH`.
pub(crate) fn is_python_name(word: &str) -> bool {
    word.strip_prefix("python")
        .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.') && !word.contains('/'))
}

/// What `requested` runs with `env`'s `PATH`; `None` when it cannot be run or says nothing,
/// in which case commands keep the bare name (and fail as they would have).
pub(crate) fn resolve(requested: &str, env: &[(String, String)]) -> Option<Interpreter> {
    let out = Command::new(requested)
        .args(["-S", "-c", PROBE])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut lines = text.lines();
    let path = PathBuf::from(lines.next()?.trim());
    let version = lines.next()?.trim().to_owned();
    (out.status.success() && path.is_absolute() && path.is_file()).then(|| Interpreter {
        requested: requested.to_owned(),
        path,
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_python_names_are_resolved() {
        for yes in ["python", "python3", "python3.12"] {
            assert!(is_python_name(yes), "{yes}");
        }
        for no in ["bash", "/usr/bin/python3", "pythonista", "python3-config", "./python3"] {
            assert!(!is_python_name(no), "{no}");
        }
    }

    #[test]
    fn python3_resolves_to_the_executable_it_runs() {
        let env = vec![("PATH".to_owned(), std::env::var("PATH").unwrap_or_default())];
        let found = resolve("python3", &env).expect("python3 is on PATH");
        assert!(found.path.is_absolute() && found.version.starts_with('3'), "{found:?}");
        let platform = Command::new(&found.path)
            .args(["-c", "import platform; print(platform.python_version())"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(platform.stdout).unwrap().trim(), found.version);
        assert_eq!(resolve(found.path.to_str().unwrap(), &env).unwrap().path, found.path, "a fixed point");
        assert!(resolve("no-such-python", &env).is_none());
    }
}
