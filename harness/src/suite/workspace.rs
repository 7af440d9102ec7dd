//! Where in a node's folder an evaluator runs. Peers' evaluators find their own files relative
//! to the working directory the peer framework gives them, so for those layouts a node's folder
//! becomes a view of the suite folder — one symlink per top-level entry, nothing copied — and
//! the candidate, results and logs of the round go into the subfolder the peer would use.

use std::path::{Path, PathBuf};

/// Names never linked into a view: the engineer writes them itself in the node's folder.
const RESERVED: [&str; 1] = [asi_evolve_store::layout::PGID_FILE];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workspace {
    /// The node's folder is the working directory (this harness's suites, OpenEvolve examples,
    /// whose evaluator gets only the program's path).
    NodeFolder,
    /// ASI-Evolve: `eval.sh` runs in `<experiment>/steps/step_N` (the seed in
    /// `steps/step_0_initial`) and finds `evaluator.py` two folders up.
    AsiSteps,
    /// ShinkaEvolve: `evaluate.py` runs in the folder the example was launched from, on
    /// `gen_N/main.py`, writing into `gen_N/results`.
    ShinkaGenerations,
}

/// The folders of one evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Where the candidate, the results and the logs go (`ASI_EVOLVE_WORKDIR`, `{workdir}`).
    pub workdir: PathBuf,
    /// The evaluator's working directory.
    pub cwd: PathBuf,
}

impl Workspace {
    /// The subfolder of a view that round `round` works in (`None`: a lone evaluation).
    fn round_folder(self, round: Option<u64>) -> PathBuf {
        match (self, round) {
            (Self::NodeFolder, _) => PathBuf::new(),
            (Self::AsiSteps, Some(0)) => Path::new("steps").join("step_0_initial"),
            (Self::AsiSteps, r) => Path::new("steps").join(format!("step_{}", r.unwrap_or(1))),
            (Self::ShinkaGenerations, r) => PathBuf::from(format!("gen_{}", r.unwrap_or(1))),
        }
    }

    /// Entries of the suite folder a view leaves out: the peer's own output folder.
    fn hidden(self, name: &str) -> bool {
        RESERVED.contains(&name) || matches!((self, name), (Self::AsiSteps, "steps"))
    }

    /// Lays out the freshly emptied `node_dir` for round `round` of a suite in `suite_dir`.
    pub fn prepare(self, node_dir: &Path, suite_dir: &Path, round: Option<u64>) -> std::io::Result<Placement> {
        if self == Self::NodeFolder {
            return Ok(Placement { workdir: node_dir.to_owned(), cwd: node_dir.to_owned() });
        }
        for entry in std::fs::read_dir(suite_dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if self.hidden(&name.to_string_lossy()) {
                continue;
            }
            std::os::unix::fs::symlink(entry.path(), node_dir.join(&name))?;
        }
        let workdir = node_dir.join(self.round_folder(round));
        std::fs::create_dir_all(&workdir)?;
        let cwd = if self == Self::AsiSteps { workdir.clone() } else { node_dir.to_owned() };
        Ok(Placement { workdir, cwd })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_links_the_suite_and_works_in_the_peers_round_folder() {
        let suite = tempfile::tempdir().unwrap();
        std::fs::write(suite.path().join("evaluator.py"), "x").unwrap();
        std::fs::create_dir(suite.path().join("steps")).unwrap();
        let node = tempfile::tempdir().unwrap();
        let p = Workspace::AsiSteps.prepare(node.path(), suite.path(), Some(3)).unwrap();
        assert_eq!(p.workdir, node.path().join("steps/step_3"));
        assert_eq!(p.cwd, p.workdir);
        assert_eq!(std::fs::read_link(node.path().join("evaluator.py")).unwrap(), suite.path().join("evaluator.py"));
        assert!(!node.path().join("steps").is_symlink(), "the peer's own steps folder is not linked");
        assert_eq!(Workspace::AsiSteps.round_folder(Some(0)), Path::new("steps/step_0_initial"));

        let node = tempfile::tempdir().unwrap();
        let p = Workspace::ShinkaGenerations.prepare(node.path(), suite.path(), None).unwrap();
        assert_eq!((p.workdir, p.cwd), (node.path().join("gen_1"), node.path().to_owned()));
        assert!(node.path().join("steps").is_symlink());
    }
}
