# The warm fork server (see warm/mod.rs). Started once per worker with the evaluator's base
# environment, it imports what the suite preloads and then only forks: each request becomes a
# child that sets itself up exactly as a fresh interpreter would be set up by the sandbox (own
# process group, rlimits, environment, working directory, output pipes, and the Landlock ruleset
# the controller built for it, as `confine` builds it for the sandbox) and runs the command.
# The server itself never runs candidate or evaluator code. It is a child subreaper, so a
# process that left the child's group (setsid) and was orphaned by a double fork is re-parented
# to the server, which kills every such process when the evaluation ends.
import atexit
import ctypes
import gc
import importlib
import importlib.machinery
import json
import os
import resource
import runpy
import signal
import socket
import sys
import threading
import time
import types

CONTROL = socket.socket(fileno=int(sys.argv[1]))
LIBC = ctypes.CDLL(None, use_errno=True)
# What a fresh interpreter adds to its environment when no locale is set (PEP 538 coercion).
COERCED_LOCALE = os.environ.get("LC_CTYPE")


def send(message):
    CONTROL.send(json.dumps(message).encode())


def preload(names):
    for name in names:
        importlib.import_module(name)


def exit_code(exit):
    code = exit.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except BaseException:
        pass
    return 1


def run_program(argv):
    # A fresh `__main__`: this server's own module stays as it is.
    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    if argv[0] == "-c":
        sys.argv = ["-c"] + argv[2:]
        sys.path[0] = ""
        exec(compile(argv[1], "<string>", "exec"), main.__dict__)
    elif argv[0] == "-m":
        sys.argv = [argv[1]] + argv[2:]
        sys.path[0] = os.getcwd()
        # What `python -m` itself calls, so a traceback shows the frames it would show.
        runpy._run_module_as_main(argv[1], alter_argv=True)
    else:
        sys.argv = list(argv)
        path = os.path.abspath(argv[0])
        sys.path[0] = os.path.dirname(path)
        try:
            with open(path, "rb") as source:
                text = source.read()
        except OSError as error:
            print(f"{sys.executable}: can't open file {path!r}: [Errno {error.errno}] {error.strerror}", file=sys.stderr)
            raise SystemExit(2)
        code = compile(text, path, "exec")
        main.__file__ = path
        main.__cached__ = None
        main.__loader__ = importlib.machinery.SourceFileLoader("__main__", path)
        exec(code, main.__dict__)


def report():
    """Prints the error as a fresh interpreter would: without this server's frames."""
    kind, value, tb = sys.exc_info()
    while tb is not None and tb.tb_frame.f_code in OWN_CODE:
        tb = tb.tb_next
    sys.excepthook(kind, value.with_traceback(tb), tb)


def confine(restrict_self, ruleset):
    """Restricts this process with the controller's Landlock ruleset, or ends it: a candidate
    never runs unconfined where confinement was asked for."""
    try:
        if LIBC.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        if LIBC.syscall(ctypes.c_long(restrict_self), ctypes.c_long(ruleset), ctypes.c_long(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    except OSError as error:
        os.write(2, f"could not confine the evaluation: {error}\n".encode())
        os._exit(126)


def child(request, fds):
    """Becomes the evaluation; never returns."""
    code = 1
    try:
        os.setpgid(0, 0)
        stdout, stderr = fds[:2]
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        for name, soft, hard in request["limits"]:
            soft, hard = (resource.RLIM_INFINITY if v >= 2**63 else v for v in (soft, hard))
            resource.setrlimit(getattr(resource, "RLIMIT_" + name), (soft, hard))
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        if request.get("landlock") is not None:
            confine(request["landlock"], fds[2])
        os.closerange(3, 65536)
        env = request["env"]
        if COERCED_LOCALE is not None and not any(env.get(k) for k in ("LC_ALL", "LC_CTYPE", "LANG")):
            os.environ["LC_CTYPE"] = COERCED_LOCALE
        # A preloaded NumPy would hand every child the same global random state; a fresh
        # interpreter seeds it from the OS (the `random` module reseeds itself after fork).
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        run_program(request["argv"])
        code = 0
    except SystemExit as exit:
        code = exit_code(exit)
    except BaseException:
        try:
            report()
        except BaseException:
            pass
        code = 1
    try:
        threading._shutdown()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(code)


OWN_CODE = {child.__code__, run_program.__code__}


def become_subreaper():
    if LIBC.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def own_children():
    found = set()
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                found.update(int(p) for p in f.read().split())
        except OSError:
            pass
    return found


def kill_orphans():
    """Kills and reaps every process re-parented to this server, until none is left."""
    for _ in range(200):
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        orphans = own_children()
        if not orphans:
            return
        for pid in orphans:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.005)


def serve():
    while True:
        message, fds, _, _ = socket.recv_fds(CONTROL, 1 << 20, 3)
        if not message:
            return
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            try:
                child(request, fds)
            finally:
                os._exit(127)
        for fd in fds:
            os.close(fd)
        send({"pid": pid})
        # Unreaped, the child keeps its group id reserved while the controller kills the group.
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        send({"exited": True})
        if CONTROL.recv(64) != b"reap":
            return
        _, status = os.waitpid(pid, 0)
        kill_orphans()
        send({"status": status})


try:
    become_subreaper()
    preload(sys.argv[2:])
    # What the server has imported is never collected: children then do not copy the pages a
    # collection would touch (copy-on-write after fork).
    gc.freeze()
except BaseException as error:
    send({"error": f"{type(error).__name__}: {error}"})
    sys.exit(1)
send({"ready": True})
serve()
