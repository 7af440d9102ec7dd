//! The warm path against the sandbox's cold path: same outcome, and every guarantee of the
//! sandbox (group killed at the timeout and at the end, rlimits, output cap) kept.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::*;
use crate::engineer::sandbox::{self, Exit, process_checks::gone_within};
use crate::engineer::{confine, interpreter};
use crate::suite::Limits;

fn env() -> Vec<(String, String)> {
    vec![("PATH".into(), std::env::var("PATH").unwrap_or_default()), ("PYTHONHASHSEED".into(), "0".into())]
}

fn python() -> PathBuf {
    interpreter::resolve("python3", &env()).expect("python3 on PATH").path
}

fn pool() -> WarmPool {
    WarmPool::new(python(), vec!["json".into()], env(), std::env::temp_dir())
}

fn spec(dir: &std::path::Path, args: &[&str], timeout_ms: u64) -> RunSpec {
    RunSpec {
        program: python().to_string_lossy().into_owned(),
        args: args.iter().map(|a| a.to_string()).collect(),
        cwd: dir.to_owned(),
        env: env(),
        timeout: Duration::from_millis(timeout_ms),
        output_cap: 4096,
        limits: Limits::default(),
        record_group_in: Some(dir.to_owned()),
        writable: Vec::new(),
    }
}

fn warm(pool: &WarmPool, spec: &RunSpec) -> RunOutput {
    assert!(pool.accepts(&spec.program, &spec.args));
    pool.run(&[spec]).expect("ran warm").unwrap().remove(0)
}

/// How long a killed descendant may take to disappear.
const GONE: Duration = Duration::from_secs(3);

#[test]
fn scripts_modules_and_code_give_what_a_fresh_interpreter_gives() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("eval.py"),
        "import os, sys\nprint(sys.argv, __name__, sys.path[0] == os.path.dirname(os.path.abspath(__file__)))\n\
         print(sorted(k for k in os.environ if k != 'PWD'), os.getcwd() == os.environ['HERE'])\n\
         print('to stderr', file=sys.stderr)\nsys.exit(3)\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("mod_here.py"),
        "import sys\nprint(sys.argv[1:], __name__)\nraise ValueError('no')\n",
    )
    .unwrap();
    let pool = pool();
    let here = dir.path().to_string_lossy().into_owned();
    for args in [
        vec!["eval.py", "a", "b"],
        vec!["-m", "mod_here", "x"],
        vec!["-c", "import sys; print(sys.argv, hash('abc')); sys.exit('said')", "y"],
        vec!["-c", "import os; os._exit(7)"],
        vec!["-c", "import json, sys; print(json.dumps({'a': 1})); sys.stdout.write('no newline')"],
        // The server does not import `threading`; a child that does still waits for its threads.
        vec!["-c", "import threading, time\nthreading.Thread(target=lambda: (time.sleep(0.2), print('late'))).start()"],
    ] {
        let mut s = spec(dir.path(), &args, 20_000);
        s.env.push(("HERE".into(), here.clone()));
        let cold = sandbox::run(&s).unwrap();
        let hot = warm(&pool, &s);
        assert_eq!(hot.exit, cold.exit, "{args:?}");
        assert_eq!(hot.stdout.text(), cold.stdout.text(), "{args:?}");
        assert_eq!(hot.stderr.text(), cold.stderr.text(), "{args:?}");
    }
    assert_eq!(pool.idle_pids().len(), 1, "one server served them all");
    assert!(!crate::engineer::stale::has_record(dir.path()), "the group record outlived the group");
}

#[test]
fn a_timeout_kills_the_whole_tree_including_a_double_forked_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    let script = "import os, time\nif os.fork() == 0:\n    if os.fork() == 0:\n        \
                  open('pid', 'w').write(str(os.getpid())); time.sleep(300)\n    os._exit(0)\ntime.sleep(300)\n";
    std::fs::write(dir.path().join("slow.py"), script).unwrap();
    let pool = pool();
    let started = Instant::now();
    let out = warm(&pool, &spec(dir.path(), &["slow.py"], 500));
    assert_eq!(out.exit, Exit::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let pid: i32 = std::fs::read_to_string(dir.path().join("pid")).unwrap().parse().unwrap();
    assert!(gone_within(pid, GONE), "grandchild {pid} survived");
    // A clean exit that leaves a grandchild behind: killed too.
    let out = warm(&pool, &spec(dir.path(), &["-c", "import subprocess; subprocess.Popen(['sleep', '300'])"], 10_000));
    assert_eq!(out.exit, Exit::Code(0));
    // One that left the group (setsid) and was orphaned by a double fork: killed at the end.
    let escape = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        \
                  os.close(1); os.close(2); open('escaped', 'w').write(str(os.getpid())); time.sleep(300)\n    \
                  os._exit(0)\nos.wait()\nwhile not os.path.exists('escaped'): time.sleep(0.01)\ntime.sleep(0.05)\n";
    std::fs::write(dir.path().join("escape.py"), escape).unwrap();
    assert_eq!(warm(&pool, &spec(dir.path(), &["escape.py"], 10_000)).exit, Exit::Code(0));
    let pid: i32 = std::fs::read_to_string(dir.path().join("escaped")).unwrap().parse().unwrap();
    assert!(gone_within(pid, GONE), "the escaped grandchild {pid} survived");
    assert_eq!(pool.idle_pids().len(), 1, "the server survived them all");
}

#[test]
fn limits_and_the_output_cap_hold_in_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool();
    let mut s = spec(dir.path(), &["-c", "bytearray(2_000_000_000)"], 20_000);
    s.limits = Limits { address_space_mb: Some(500), ..Limits::default() };
    let out = warm(&pool, &s);
    assert_eq!(out.exit, Exit::Code(1));
    assert!(out.stderr.text().contains("MemoryError"), "{}", out.stderr.text());
    let mut s = spec(dir.path(), &["-c", "import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE))"], 20_000);
    s.limits = Limits { open_files: Some(64), ..Limits::default() };
    assert_eq!(warm(&pool, &s).stdout.text(), "(64, 64)\n");
    let flood = "import sys\nchunk = 'x' * 1_000_000\nfor _ in range(100): sys.stdout.write(chunk)\nprint('\\nend')";
    let started = Instant::now();
    let out = warm(&pool, &spec(dir.path(), &["-c", flood], 60_000));
    assert_eq!(out.exit, Exit::Code(0));
    assert_eq!(out.stdout.total, 100_000_000 + 5);
    assert!(out.stdout.text().ends_with("x\nend\n"));
    assert!(out.stdout.tail.capacity() <= 4 * 4096 + 64 * 1024, "{}", out.stdout.tail.capacity());
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
}

#[test]
fn the_child_is_confined_to_the_folders_the_sandbox_would_allow() {
    if confine::tests::cannot_confine() {
        return;
    }
    let (node, outside) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let scratch = confine::Scratch::new().unwrap();
    let code = "import os, sys\n\
                open('ok.txt', 'w').write('a')\n\
                open(os.path.join(os.environ['TMPDIR'], 'ok.txt'), 'w').write('b')\n\
                open(os.devnull, 'w').write('c')\n\
                try:\n    open(os.path.join(sys.argv[1], 'planted'), 'w')\nexcept PermissionError:\n    sys.exit(0)\n\
                sys.exit(5)\n";
    let mut s = spec(node.path(), &["-c", code, outside.path().to_str().unwrap()], 20_000);
    s.env.push(("TMPDIR".into(), scratch.path().display().to_string()));
    s.writable = vec![node.path().to_owned(), scratch.path().to_owned()];
    let pool = pool();
    let cold = sandbox::run(&s).unwrap();
    assert_eq!(cold.exit, Exit::Code(0), "{}", cold.stderr.text());
    let out = warm(&pool, &s);
    assert_eq!(out.exit, Exit::Code(0), "the warm child wrote outside its folders: {}", out.stderr.text());
    assert!(scratch.path().join("ok.txt").is_file() && node.path().join("ok.txt").is_file());
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    // The server itself stays unconfined: the next, unconfined command may write there.
    let mut free = spec(
        node.path(),
        &["-c", "import sys; open(sys.argv[1] + '/free', 'w')", outside.path().to_str().unwrap()],
        20_000,
    );
    free.writable.clear();
    assert_eq!(warm(&pool, &free).exit, Exit::Code(0));
    assert_eq!(pool.idle_pids().len(), 1);
}

#[test]
fn a_child_that_wrecks_its_interpreter_leaves_the_next_evaluation_unaffected() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool();
    let wreck = "import builtins, json, sys\njson.dumps = None\nbuiltins.print = None\nsys.modules.clear()\n\
                 sys.path[:] = []\nopen('wrecked', 'w').close()";
    assert_eq!(warm(&pool, &spec(dir.path(), &["-c", wreck], 20_000)).exit, Exit::Code(0));
    assert!(dir.path().join("wrecked").exists());
    let server = pool.idle_pids();
    let out =
        warm(&pool, &spec(dir.path(), &["-c", "import json, sys; print(json.dumps([1]), len(sys.path) > 0)"], 20_000));
    assert_eq!((out.exit, out.stdout.text().as_str()), (Exit::Code(0), "[1] True\n"));
    assert_eq!(pool.idle_pids(), server, "the same server ran both");
}

#[test]
fn a_server_that_died_is_replaced_and_a_bad_preload_runs_cold() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool();
    assert_eq!(warm(&pool, &spec(dir.path(), &["-c", "pass"], 20_000)).exit, Exit::Code(0));
    let [first] = pool.idle_pids()[..] else { panic!("one server") };
    // SAFETY: kill only sends a signal to the server this test started.
    unsafe { libc::kill(first as i32, libc::SIGKILL) };
    let out = warm(&pool, &spec(dir.path(), &["-c", "print('again')"], 20_000));
    assert_eq!((out.exit, out.stdout.text().as_str()), (Exit::Code(0), "again\n"));
    let [second] = pool.idle_pids()[..] else { panic!("one server") };
    assert_ne!(first, second);

    let broken = WarmPool::new(python(), vec!["no_such_module_here".into()], env(), std::env::temp_dir());
    assert!(broken.run(&[&spec(dir.path(), &["-c", "pass"], 20_000)]).is_none(), "cold, not a failed evaluation");
    assert!(broken.idle_pids().is_empty());
}

#[test]
fn only_the_pools_interpreter_running_a_script_module_or_code_is_accepted() {
    let pool = pool();
    let py = python().to_string_lossy().into_owned();
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(pool.accepts(&py, &words(&["eval.py", "x"])));
    assert!(pool.accepts(&py, &words(&["-c", "pass"])));
    assert!(pool.accepts(&py, &words(&["-m", "mod"])));
    assert!(!pool.accepts(&py, &words(&["-u", "eval.py"])));
    assert!(!pool.accepts(&py, &words(&["-c"])));
    assert!(!pool.accepts(&py, &[]));
    assert!(!pool.accepts("bash", &words(&["eval.py"])));
}

#[test]
fn errors_read_as_a_fresh_interpreter_prints_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.py"), "def f(:\n").unwrap();
    std::fs::write(dir.path().join("raises.py"), "import json\njson.loads('{')\n").unwrap();
    let pool = pool();
    for args in [
        vec!["bad.py"],
        vec!["raises.py"],
        vec!["-m", "raises"],
        vec!["-c", "def f(:"],
        vec!["-c", "1/0"],
        vec!["-c", "raise SystemExit(None)"],
        vec!["-c", "import sys; sys.exit(300)"],
        vec!["no_such_script.py"],
    ] {
        let s = spec(dir.path(), &args, 20_000);
        let cold = sandbox::run(&s).unwrap();
        let hot = warm(&pool, &s);
        assert_eq!((hot.exit, hot.stderr.text()), (cold.exit, cold.stderr.text()), "{args:?}");
    }
}

fn chain(pool: &WarmPool, check: &RunSpec, stage: &RunSpec) -> Vec<RunOutput> {
    assert!(pool.chains(check, stage));
    pool.run(&[check, stage]).expect("ran warm").unwrap()
}

#[test]
fn a_chained_stage_runs_after_its_check_as_a_process_of_its_own_would() {
    let dir = tempfile::tempdir().unwrap();
    // Everything a check might leave behind in its process: none of it may reach the stage.
    let check = "import atexit, fractions, os, signal, sys, threading, time\n\
                 sys.path.append('/check/was/here'); os.environ['LEAK'] = '1'; os.chdir('/')\n\
                 signal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
                 atexit.register(lambda: print('check atexit', file=sys.__stderr__))\n\
                 threading.Thread(target=lambda: (time.sleep(0.2), print('check thread', file=sys.__stderr__))).start()\n\
                 print('check out'); print('check err', file=sys.stderr)\n\
                 sys.excepthook = print; sys.stdout = open(os.devnull, 'w')";
    let stage = "import os, signal, sys\n\
                 print('fractions' in sys.modules, '/check/was/here' in sys.path, 'LEAK' in os.environ)\n\
                 print(signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, sys.excepthook is sys.__excepthook__)\n\
                 print(os.getcwd() == os.environ['HERE'])\n\
                 raise ValueError('stage done')";
    let here = dir.path().to_string_lossy().into_owned();
    let mut check = spec(dir.path(), &["-c", check], 20_000);
    let mut stage = spec(dir.path(), &["-c", stage, "arg"], 20_000);
    for s in [&mut check, &mut stage] {
        s.env.push(("HERE".into(), here.clone()));
    }
    stage.env.push(("STAGE".into(), "1".into()));
    let pool = pool();
    let hot = chain(&pool, &check, &stage);
    let cold = [sandbox::run(&check).unwrap(), sandbox::run(&stage).unwrap()];
    assert_eq!(hot.len(), 2, "{:?} {}", hot[0].exit, hot[0].stderr.text());
    for (hot, cold) in hot.iter().zip(&cold) {
        assert_eq!(hot.exit, cold.exit);
        assert_eq!(hot.stdout.text(), cold.stdout.text());
        assert_eq!(hot.stderr.text(), cold.stderr.text());
    }
    assert_eq!(cold[0].stdout.text(), "check out\n");
    assert_eq!(cold[0].stderr.text(), "check err\ncheck thread\ncheck atexit\n");
    assert_eq!(cold[1].stdout.text(), "False False False\nTrue True\nTrue\n");
    assert_eq!(pool.idle_pids().len(), 1);
    assert!(!crate::engineer::stale::has_record(dir.path()), "the group record outlived the group");
}

#[test]
fn a_preloaded_modules_exit_functions_run_when_the_stage_ends_after_its_own() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("preloaded_here.py"),
        "import atexit, sys\natexit.register(lambda: print('preloaded atexit', file=sys.__stderr__))\n",
    )
    .unwrap();
    let mut env = env();
    env.push(("PYTHONPATH".into(), dir.path().to_string_lossy().into_owned()));
    let pool = WarmPool::new(python(), vec!["preloaded_here".into()], env.clone(), std::env::temp_dir());
    let mut check = spec(dir.path(), &["-c", "import sys; print('check', file=sys.stderr)"], 20_000);
    let mut stage = spec(
        dir.path(),
        &[
            "-c",
            "import atexit, sys, preloaded_here\natexit.register(lambda: print('stage atexit', file=sys.__stderr__))",
        ],
        20_000,
    );
    for s in [&mut check, &mut stage] {
        s.env = env.clone();
    }
    let cold = [sandbox::run(&check).unwrap(), sandbox::run(&stage).unwrap()];
    assert_eq!(cold[1].stderr.text(), "stage atexit\npreloaded atexit\n");
    let hot = chain(&pool, &check, &stage);
    assert_eq!(hot.len(), 2);
    for (hot, cold) in hot.iter().zip(&cold) {
        assert_eq!((hot.exit, hot.stderr.text()), (cold.exit, cold.stderr.text()));
    }
    let alone = warm(&pool, &stage);
    assert_eq!((alone.exit, alone.stderr.text()), (cold[1].exit, cold[1].stderr.text()));
}

#[test]
fn a_chained_stage_runs_only_once_its_check_passed_in_its_own_time() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool();
    let stage = spec(dir.path(), &["-c", "open('stage_ran', 'w').close()"], 20_000);
    let ran = || dir.path().join("stage_ran").exists();

    let failing = spec(dir.path(), &["-c", "import sys; print('bad syntax', file=sys.stderr); sys.exit(1)"], 20_000);
    let out = chain(&pool, &failing, &stage);
    assert_eq!((out.len(), out[0].exit, out[0].stderr.text().as_str()), (1, Exit::Code(1), "bad syntax\n"));
    assert!(!ran());

    // A check that ends its process with 0 passed; the stage is then the caller's to run.
    let exits = spec(dir.path(), &["-c", "import os; os._exit(0)"], 20_000);
    let out = chain(&pool, &exits, &stage);
    assert_eq!((out.len(), out[0].exit), (1, Exit::Code(0)));
    assert!(!ran());

    let slow_check = spec(dir.path(), &["-c", "import time; time.sleep(30)"], 300);
    let out = chain(&pool, &slow_check, &stage);
    assert_eq!((out.len(), out[0].exit), (1, Exit::TimedOut));
    assert!(!ran());

    // Each step has its own timeout, counted from its own start.
    let check = spec(dir.path(), &["-c", "import time; time.sleep(0.4)"], 1_000);
    let slow_stage = spec(dir.path(), &["-c", "import time; open('stage_ran', 'w').close(); time.sleep(30)"], 800);
    let started = Instant::now();
    let out = chain(&pool, &check, &slow_stage);
    assert_eq!(out.iter().map(|o| o.exit).collect::<Vec<_>>(), [Exit::Code(0), Exit::TimedOut]);
    assert!(ran());
    assert!(out[0].elapsed >= Duration::from_millis(400) && out[1].elapsed >= Duration::from_millis(800));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(pool.idle_pids().len(), 1, "one server ran every chain");
}

/// Plays a controller that is killed while its evaluation runs: it starts a fork server, asks
/// for a child that starts a sleeper in a session of its own, and exits without a word.
const DYING_CONTROLLER: &str = r#"import json, os, socket, subprocess, sys, time
ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
server = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(theirs.fileno()), "json"],
                          pass_fds=[theirs.fileno()], start_new_session=True)
theirs.close()
assert json.loads(ours.recv(1000)) == {"ready": True}
out, err = os.pipe()[1], os.pipe()[1]
code = ("import os, subprocess, time; p = subprocess.Popen(['sleep', '300'], start_new_session=True); "
        "open('pids.tmp', 'w').write(f'{os.getpid()} {p.pid}'); os.rename('pids.tmp', 'pids'); time.sleep(300)")
request = {"steps": [{"argv": ["-c", code], "env": {"PATH": os.environ["PATH"]}}], "cwd": os.getcwd(), "limits": [], "landlock": None}
socket.send_fds(ours, [json.dumps(request).encode()], [out, err])
json.loads(ours.recv(1000))
while not os.path.exists("pids"):
    time.sleep(0.01)
print(server.pid, open("pids").read(), flush=True)
os._exit(0)
"#;

#[test]
fn a_server_whose_controller_died_kills_the_evaluation_and_what_it_orphaned_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(python())
        .args(["-c", DYING_CONTROLLER, server::SOURCE])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pids: Vec<i32> = String::from_utf8_lossy(&out.stdout).split_whitespace().map(|p| p.parse().unwrap()).collect();
    let [server, child, sleeper] = pids[..] else { panic!("{pids:?}") };
    for (what, pid) in [("the evaluation", child), ("the sleeper it orphaned", sleeper), ("the server", server)] {
        assert!(gone_within(pid, GONE), "{what} ({pid}) outlived its controller");
    }
}

#[test]
fn prestarted_servers_serve_the_first_evaluations_and_no_more_are_started() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool();
    pool.prestart(2);
    let s = spec(dir.path(), &["-c", "import os; print(os.getppid())"], 20_000);
    let first = warm(&pool, &s).stdout.text();
    let second = warm(&pool, &s).stdout.text();
    pool.wait_for_starts();
    let started: std::collections::BTreeSet<u32> = pool.idle_pids().into_iter().collect();
    assert_eq!(started.len(), 2, "both prestarted servers, and no third, are idle");
    for parent in [first, second] {
        assert!(started.contains(&parent.trim().parse().unwrap()), "{parent} is not a prestarted server");
    }

    let broken = WarmPool::new(python(), vec!["no_such_module_here".into()], env(), std::env::temp_dir());
    broken.prestart(3);
    assert!(broken.run(&[&s]).is_none(), "a failed start makes the command run cold");
    assert!(broken.idle_pids().is_empty());
}

#[test]
fn a_standby_child_killed_from_outside_is_replaced_without_failing_the_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool();
    let s = spec(dir.path(), &["-c", "print('ran')"], 20_000);
    assert_eq!(warm(&pool, &s).stdout.text(), "ran\n");
    let [server] = pool.idle_pids()[..] else { panic!("one server") };
    let children = || std::fs::read_to_string(format!("/proc/{server}/task/{server}/children")).unwrap();
    let deadline = Instant::now() + GONE;
    let standby: i32 = loop {
        if let Some(pid) = children().split_whitespace().next() {
            break pid.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "the server forked no standby child");
        std::thread::sleep(Duration::from_millis(10));
    };
    // SAFETY: kill only sends a signal, to a process of our own.
    unsafe { libc::kill(standby, libc::SIGKILL) };
    let out = warm(&pool, &s);
    assert_eq!((out.exit, out.stdout.text().as_str()), (Exit::Code(0), "ran\n"));
    assert_eq!(pool.idle_pids(), [server], "the same server ran it");
}
