"""Run a circle-packing candidate and record what it returned, without judging it.

Usage: run_candidate.py CANDIDATE.py OUT.json

The candidate defines run_packing() returning (centers, radii) or (centers, radii, sum_radii),
as OpenEvolve's and ShinkaEvolve's circle-packing programs do; a program with no run_packing()
but a construct_packing() (ASI-Evolve's circle_packing_demo programs) has that called instead.
Everything is written as returned; validation and scoring happen in `asi-evolve validate-packing`.
Non-finite floats are written as the strings "nan", "inf" and "-inf" because JSON has no NaN.

The candidate is untrusted, and the harness's confinement alone would let it write the node
folder, where the results file is: a forged results.json, left behind by a candidate that then
crashes or kills this evaluator, or rewritten by a daemon after the judge, would be read as the
score. So the candidate runs in a forked child confined further (see `confine`): it may write
only into a private folder of its own, cannot signal or trace any process but its own, and has
no capabilities. It hands its packing back through a pipe; this process writes OUT.json only
once every process the candidate started is gone (where it may, it starts the candidate below
a small init of a PID namespace of its own, whose end takes all of them with it). The judge
that runs next therefore reads exactly what the candidate returned, and writes the only
results file.
"""

import ctypes
import importlib.util
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback

# A packing of n circles is a few KiB as JSON; more than this is not a packing.
MAX_PACKING_BYTES = 16 * 1024 * 1024
# Without a PID namespace: rounds of "find the candidate's processes, kill them", and waits for
# the pipe to close, before giving up on a tree that keeps forking (the evaluation then fails).
KILL_ROUNDS = 200
PIPE_WAITS = 5
# The candidate's environment keeps the seed; the paths of the node, results and judge go.
KEPT_HARNESS_VARS = ("ASI_EVOLVE_SEED",)

libc = ctypes.CDLL(None, use_errno=True)
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWPID = 0x20000000
# Landlock's system calls have the same numbers on every architecture.
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_WRITE_FILE = 1 << 1
FS_WRITE_ABI1 = sum(1 << b for b in (1, 4, 5, 6, 7, 8, 9, 10, 11, 12))  # write, remove, make_*
FS_REFER, FS_TRUNCATE = 1 << 13, 1 << 14  # ABI 2, ABI 3
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6
# Device files an honest program may write (print to /dev/null); not /dev itself, which holds
# the disks. /dev/shm is for multiprocessing's semaphores.
DEVICE_FILES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")


class RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def plain(value):
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return repr(value)
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def syscall_error(what):
    e = ctypes.get_errno()
    return OSError(e, f"{what}: {os.strerror(e)}")


def confine(private):
    """Binds this process and all it starts: writes only beneath `private` (and the device files
    above), no signals or abstract sockets to processes outside, no capabilities. Irrevocable."""
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise syscall_error("prctl(PR_SET_NO_NEW_PRIVS)")
    abi = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), LANDLOCK_CREATE_RULESET_VERSION)
    if abi < 1:
        # The harness then runs evaluators unconfined too and says so in the campaign manifest.
        print(f"run_candidate.py: no Landlock here ({os.strerror(ctypes.get_errno())}); "
              "the candidate runs unconfined", file=sys.stderr)
    else:
        write = FS_WRITE_ABI1 | (FS_REFER if abi >= 2 else 0) | (FS_TRUNCATE if abi >= 3 else 0)
        attr = RulesetAttr(write, 0, SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0)
        size = 24 if abi >= 6 else 8  # the struct grew with ABI 4 (net) and 6 (scoped)
        ruleset = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
        if ruleset < 0:
            raise syscall_error("landlock_create_ruleset")
        device = FS_WRITE_FILE | (FS_TRUNCATE if abi >= 3 else 0)
        rules = [(private, write), ("/dev/shm", write)] + [(p, device) for p in DEVICE_FILES]
        for path, access in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            rule = PathBeneathAttr(access, fd)
            added = libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0)
            os.close(fd)
            if added != 0:
                raise syscall_error(f"landlock_add_rule({path})")
        if libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            raise syscall_error("landlock_restrict_self")
        os.close(ruleset)
    # As root the candidate would keep the capabilities that reach past Landlock (bpf, kernel
    # modules, raw I/O). The bounding set goes first, while CAP_SETPCAP is still held; with
    # no_new_privs set, exec cannot give any back.
    with open("/proc/sys/kernel/cap_last_cap") as f:
        for cap in range(int(f.read()) + 1):
            libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EPERM when not held: nothing to drop
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    if libc.capset(header, (ctypes.c_uint32 * 6)()) != 0:
        raise syscall_error("capset")


def run_child(candidate, private, fd):
    """The forked child: confines itself, runs the candidate, writes the packing to `fd`."""
    # A fork keeps every descriptor, even those the harness's own caller left open to it.
    os.closerange(3, fd)
    os.closerange(fd + 1, os.sysconf("SC_OPEN_MAX"))
    os.chdir(private)
    for key in [k for k in os.environ if k.startswith("ASI_EVOLVE_") and k not in KEPT_HARNESS_VARS]:
        del os.environ[key]
    os.environ["TMPDIR"] = tempfile.tempdir = private
    confine(private)
    spec = importlib.util.spec_from_file_location("candidate", candidate)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    entry = next((name for name in ("run_packing", "construct_packing") if hasattr(module, name)), None)
    if entry is None:
        sys.exit("the candidate defines no run_packing() (nor construct_packing()) function")
    returned = getattr(module, entry)()
    if not isinstance(returned, (list, tuple)) or len(returned) not in (2, 3):
        sys.exit(f"{entry}() must return (centers, radii) or (centers, radii, sum_radii)")
    packing = {"centers": plain(returned[0]), "radii": plain(returned[1])}
    if len(returned) == 3:
        packing["reported_sum"] = plain(returned[2])
    with os.fdopen(fd, "w") as f:
        json.dump(packing, f)


def child_main(candidate, private, fd):
    """Never returns: the child ends as the interpreter would end a script, without running the
    parent's code after the fork."""
    code = 1
    try:
        run_child(candidate, private, fd)
        code = 0
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def live_descendants():
    """This process's live descendants, from one scan of /proc."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                state, ppid = f.read().rpartition(")")[2].split()[:2]
        except (OSError, ValueError):
            continue
        if state != "Z":
            children.setdefault(int(ppid), []).append(int(name))
    found, todo = [], [os.getpid()]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def end_tree():
    """Kills everything the candidate left running (as a subreaper, all of it is below us).
    False if it could not be stopped."""
    for _ in range(KILL_ROUNDS):
        pids = live_descendants()
        if not pids:
            reap()
            return True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.005)
        reap()
    return False


def read_pipe(fd, box):
    chunks, size = [], 0
    while chunk := os.read(fd, 1 << 16):
        size += len(chunk)
        if size > MAX_PACKING_BYTES:
            box["too_big"] = True
            break
        chunks.append(chunk)
    os.close(fd)
    box["data"] = b"".join(chunks)


def exit_as(status):
    """Ends this process the way the candidate's process ended."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), sig)
        sys.exit(128 + sig)
    sys.exit(os.waitstatus_to_exitcode(status))


def pid_namespace():
    """Makes the next fork the first process (init) of a new PID namespace: when it ends, the
    kernel kills every process left in the namespace, which a process that keeps forking away
    from a scan of /proc cannot escape. Returns a descriptor of our own namespace to go back to
    (threads cannot start while children go to another one), or None where it is not allowed (no
    CAP_SYS_ADMIN): `end_tree` is all there is then."""
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    if libc.unshare(CLONE_NEWPID) == 0:
        return own
    os.close(own)
    return None


def init_main(candidate, private, packing_fd, status_fd):
    """The namespace's init, our code: runs the candidate as its child, so that the candidate
    keeps ordinary signal semantics (an init ignores signals it has no handler for), reaps
    whatever the candidate orphans, reports its wait status and ends, taking the rest along."""
    try:
        child = os.fork()
        if child == 0:
            os.close(status_fd)
            child_main(candidate, private, packing_fd)
        os.close(packing_fd)
        while True:
            pid, status = os.waitpid(-1, 0)
            if pid == child:
                break
        os.write(status_fd, status.to_bytes(4, "little"))
        code = 0
    except BaseException:
        traceback.print_exc()
        code = 1
    os._exit(code)


def main(candidate, out):
    candidate = os.path.abspath(candidate)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise syscall_error("prctl(PR_SET_CHILD_SUBREAPER)")
    private = tempfile.mkdtemp(prefix="candidate-", dir=os.environ.get("TMPDIR"))
    read_fd, write_fd = os.pipe()
    status_read, status_write = os.pipe()
    own_namespace = pid_namespace()
    init = os.fork()
    if init == 0:
        for fd in (read_fd, status_read, own_namespace):
            if fd is not None:
                os.close(fd)
        init_main(candidate, private, write_fd, status_write)
    os.close(write_fd)
    os.close(status_write)
    if own_namespace is not None:
        if libc.setns(own_namespace, CLONE_NEWPID) != 0:
            raise syscall_error("setns")
        os.close(own_namespace)
    box = {}
    reader = threading.Thread(target=read_pipe, args=(read_fd, box), daemon=True)
    reader.start()
    while True:
        pid, init_status = os.waitpid(-1, 0)  # orphans of the candidate are reaped here as they end
        if pid == init:
            break
    reported = os.read(status_read, 4)
    os.close(status_read)
    # The pipe closes when the last process holding it is gone: one that escaped a scan of /proc
    # still holds it (the candidate's processes inherit it).
    for _ in range(PIPE_WAITS):
        stopped = end_tree()
        reader.join(1.0)
        if stopped and not reader.is_alive():
            break
    else:
        sys.exit("the candidate left processes running that could not be stopped")
    shutil.rmtree(private, ignore_errors=True)
    if len(reported) != 4:
        exit_as(init_status or 1 << 8)  # the init failed before the candidate ended
    status = int.from_bytes(reported, "little")
    if box.get("too_big"):
        sys.exit(f"the candidate wrote more than {MAX_PACKING_BYTES} bytes of packing")
    if status != 0:
        exit_as(status)
    if not box.get("data"):
        sys.exit("the candidate exited before returning a packing")
    with open(out, "wb") as f:
        f.write(box["data"])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
