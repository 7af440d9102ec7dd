//! The batch script of one stage: export the stage's environment, `cd` into the stage's working folder,
//! run the configured setup lines, then hand over to the launcher (`asi-evolve slurm-stage`),
//! which runs the command in its own process group under the suite's limits and records how
//! it ended, exactly as the local sandbox would report it.

use std::path::Path;

use crate::suite::Limits;

/// What the script needs; `launcher` is the `asi-evolve` executable (same path on every node).
pub(super) struct Script<'a> {
    pub launcher: &'a Path,
    /// Where the command runs (the node's folder, or a peer's step folder inside it).
    pub cwd: &'a Path,
    pub env: &'a [(String, String)],
    pub setup: &'a [String],
    pub limits: Limits,
    pub status_file: &'a str,
    pub program: &'a str,
    pub args: &'a [String],
}

fn quote(word: &str) -> Result<String, String> {
    shlex::try_quote(word).map(|q| q.into_owned()).map_err(|_| format!("{word:?} holds a NUL byte"))
}

impl Script<'_> {
    pub(super) fn render(&self) -> Result<String, String> {
        let mut s = String::from("#!/bin/bash\n# Written by asi-evolve: one evaluator stage as a Slurm batch job.\n");
        for (key, value) in self.env {
            s.push_str(&format!("export {}\n", quote(&format!("{key}={value}"))?));
        }
        s.push_str(&format!("cd {} || exit 1\n", quote(&self.cwd.to_string_lossy())?));
        if !self.setup.is_empty() {
            // A setup line that fails ends the job before the command (reported as such).
            s.push_str("set -e\n");
            for line in self.setup {
                s.push_str(line);
                s.push('\n');
            }
            s.push_str("set +e\n");
        }
        let mut launch = vec![
            quote(&self.launcher.to_string_lossy())?,
            "slurm-stage".into(),
            "--status".into(),
            quote(self.status_file)?,
        ];
        let limits = [
            ("--address-space-mb", self.limits.address_space_mb),
            ("--cpu-seconds", self.limits.cpu_seconds),
            ("--file-size-mb", self.limits.file_size_mb),
            ("--open-files", self.limits.open_files),
        ];
        for (flag, value) in limits {
            if let Some(v) = value {
                launch.extend([flag.to_owned(), v.to_string()]);
            }
        }
        launch.push("--".into());
        launch.push(quote(self.program)?);
        for arg in self.args {
            launch.push(quote(arg)?);
        }
        s.push_str(&format!("exec {} </dev/null\n", launch.join(" ")));
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_and_limits_passed_on() {
        let env = vec![("PATH".to_owned(), "/a b:/c".to_owned()), ("X".to_owned(), "it's".to_owned())];
        let setup = vec!["module load cuda/12".to_owned()];
        let args = vec!["{odd} $HOME".to_owned()];
        let script = Script {
            launcher: Path::new("/opt/asi evolve"),
            cwd: Path::new("/runs/r/nodes/00001"),
            env: &env,
            setup: &setup,
            limits: Limits { cpu_seconds: Some(60), ..Default::default() },
            status_file: "slurm.stage1.status",
            program: "python3",
            args: &args,
        }
        .render()
        .unwrap();
        assert!(script.starts_with("#!/bin/bash\n"), "{script}");
        assert!(script.contains("export 'PATH=/a b:/c'\n"), "{script}");
        assert!(script.contains("set -e\nmodule load cuda/12\nset +e\n"), "{script}");
        assert!(
            script.contains(
                "exec '/opt/asi evolve' slurm-stage --status slurm.stage1.status --cpu-seconds 60 -- python3 '{odd} $HOME' </dev/null"
            ),
            "{script}"
        );
    }

    #[test]
    fn the_script_runs_what_it_says() {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![("GREETING".to_owned(), "it's \"quoted\" $NOT".to_owned())];
        let setup = vec!["echo setup ran >&2".to_owned()];
        let text = Script {
            launcher: Path::new("/bin/echo"),
            cwd: dir.path(),
            env: &env,
            setup: &setup,
            limits: Limits::default(),
            status_file: "s",
            program: "prog",
            args: &[],
        }
        .render()
        .unwrap();
        let out = std::process::Command::new("bash")
            .args(["-c", &format!("{}\necho never", text.replace("exec /bin/echo", "echo \"$GREETING\" $PWD"))])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.starts_with(&format!("it's \"quoted\" $NOT {}", dir.path().display())), "{stdout}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "setup ran\n");
    }
}
