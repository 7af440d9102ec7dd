# The warm fork server (see warm/mod.rs). Started once per worker with the evaluator's base
# environment, it imports what the suite preloads and then only forks: each request becomes a
# child that sets itself up exactly as a fresh interpreter would be set up by the sandbox (own
# process group, rlimits, environment, working directory, output pipes, and the Landlock ruleset
# the controller built for it, as `confine` builds it for the sandbox) and runs the command, or
# the static check and then the first stage (`Baseline` puts back what the check changed). The
# child is forked before its request comes (`fork_standby`). The server itself never runs
# candidate or evaluator code. It watches the child through a pidfd,
# signals its group when the controller asks (at the timeout), and when it exits kills the
# group before reaping it. It is a child subreaper, so a process that left the child's group
# (setsid) and was orphaned by a double fork is re-parented to the server, which kills every
# such process when the evaluation ends.
import atexit
import ctypes
import gc
import importlib
import importlib.machinery
import json
import os
import resource
import runpy
import select
import signal
import socket
import sys
import time
import types

# Not `threading`: once imported, every forked child runs its after-fork handler (about 0.2 ms
# and a hundred copied pages); children that use it import it as a fresh interpreter would.

CONTROL = socket.socket(fileno=int(sys.argv[1]))
LIBC = ctypes.CDLL(None, use_errno=True)
# What a fresh interpreter adds to its environment when no locale is set (PEP 538 coercion).
COERCED_LOCALE = os.environ.get("LC_CTYPE")


def send(message):
    CONTROL.send(json.dumps(message).encode())


def preload(names):
    """Imports `names`, keeping aside the exit functions they register: a child runs them when
    it ends, after its own, as a fresh interpreter that imported them would, and not when a
    check chained before a stage ends."""
    register = atexit.register

    def recording(func, *args, **kwargs):
        if capturing:
            PRELOADED_EXITFUNCS.append((func, args, kwargs))
        return register(func, *args, **kwargs)

    capturing = True
    atexit.register = recording
    try:
        for name in names:
            importlib.import_module(name)
    finally:
        capturing = False
        atexit.register = register
    if atexit._ncallbacks() == len(PRELOADED_EXITFUNCS):
        atexit._clear()
    else:
        # Registered some other way (from C): left in place, and run when a check ends.
        PRELOADED_EXITFUNCS.clear()


PRELOADED_EXITFUNCS = []


def run_exitfuncs():
    """What the interpreter runs at its end: the exit functions registered in this process,
    then the preloaded modules', each in the reverse order of registration."""
    atexit._run_exitfuncs()
    if PRELOADED_EXITFUNCS:
        atexit._clear()
        for func, args, kwargs in PRELOADED_EXITFUNCS:
            atexit.register(func, *args, **kwargs)
        atexit._run_exitfuncs()


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


def close_all_but(keep):
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 65536)


def set_environment(env):
    """Makes `os.environ` exactly `env` (with the locale a fresh interpreter would coerce),
    changing only what differs."""
    if COERCED_LOCALE is not None and not any(env.get(k) for k in ("LC_ALL", "LC_CTYPE", "LANG")):
        env = dict(env, LC_CTYPE=COERCED_LOCALE)
    for key in [k for k in os.environ if k not in env]:
        del os.environ[key]
    for key, value in env.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def run_step(argv):
    """Runs one command as a fresh interpreter would; its exit code."""
    try:
        run_program(argv)
        return 0
    except SystemExit as exit:
        return exit_code(exit)
    except BaseException:
        try:
            report()
        except BaseException:
            pass
        return 1


class Baseline:
    """What a passed step may have changed in this process, put back before the next step runs,
    as if it had been a process of its own: imported modules, import path, signal handlers,
    hooks, standard streams, exit functions and the threads it left to finish. Taken once in
    the server; each check is cheap when nothing changed, since every object a child touches
    (reading one takes a reference) costs it a copied page."""

    def __init__(self):
        self.module_count = len(sys.modules)
        self.last_module = next(reversed(sys.modules))
        self.modules = frozenset(sys.modules)
        self.path = list(sys.path)
        self.meta_path = list(sys.meta_path)
        self.path_hooks = list(sys.path_hooks)
        self.hooks = (sys.excepthook, sys.displayhook, sys.unraisablehook, sys.breakpointhook)
        self.signals = [(s, signal.getsignal(s)) for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)]

    def restore(self, cwd):
        threading = sys.modules.get("threading")
        if threading is not None and threading.active_count() > 1:
            for thread in threading.enumerate():
                if thread is not threading.main_thread() and not thread.daemon:
                    thread.join()
        if atexit._ncallbacks():
            atexit._run_exitfuncs()
            atexit._clear()
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except BaseException:
                pass
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        # New modules are appended to `sys.modules`, so an unchanged count and last entry mean
        # nothing was imported (or nothing stayed).
        if len(sys.modules) != self.module_count or next(reversed(sys.modules), None) != self.last_module:
            for name in [m for m in sys.modules if m not in self.modules]:
                del sys.modules[name]
        if sys.path != self.path or sys.meta_path != self.meta_path or sys.path_hooks != self.path_hooks:
            sys.path[:] = self.path
            sys.meta_path[:] = self.meta_path
            sys.path_hooks[:] = self.path_hooks
            sys.path_importer_cache.clear()
        sys.excepthook, sys.displayhook, sys.unraisablehook, sys.breakpointhook = self.hooks
        for number, handler in self.signals:
            if handler is not None and signal.getsignal(number) is not handler:
                signal.signal(number, handler)
        os.chdir(cwd)


def child(request, fds):
    """Becomes the evaluation: runs its steps in turn, the next one only after the last passed
    (exit code 0), and tells the controller of each pass; never returns."""
    code = 1
    try:
        os.setpgid(0, 0)
        steps = request["steps"]
        pipes = [(fds[2 * i], fds[2 * i + 1]) for i in range(len(steps))]
        progress = fds[2 * len(steps)] if len(steps) > 1 else None
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for name, soft, hard in request["limits"]:
            soft, hard = (resource.RLIM_INFINITY if v >= 2**63 else v for v in (soft, hard))
            resource.setrlimit(getattr(resource, "RLIMIT_" + name), (soft, hard))
        os.chdir(request["cwd"])
        if request.get("landlock") is not None:
            confine(request["landlock"], fds[-1])
        keep = {fd for pair in pipes for fd in pair} | ({progress} if progress is not None else set())
        close_all_but(keep)
        for fd in keep:
            os.set_inheritable(fd, False)
        # A preloaded NumPy would hand every child the same global random state; a fresh
        # interpreter seeds it from the OS (the `random` module reseeds itself after fork).
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        for i, step in enumerate(steps):
            out, err = pipes[i]
            os.dup2(out, 1)
            os.dup2(err, 2)
            os.close(out)
            os.close(err)
            set_environment(step["env"])
            code = run_step(step["argv"])
            if i + 1 == len(steps) or code != 0:
                break
            BASELINE.restore(request["cwd"])
            os.write(progress, b"p")
    except BaseException:
        try:
            report()
        except BaseException:
            pass
        code = 1
    try:
        # As the interpreter's own end does: threads can only have started if `threading`
        # was imported.
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
        run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(code)


OWN_CODE = {child.__code__, run_step.__code__, run_program.__code__}


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
                # No child at all, so no orphan: the usual case, known without reading /proc.
                return
        orphans = own_children()
        if not orphans:
            return
        for pid in orphans:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.005)


def kill_group(pid, number):
    try:
        os.killpg(pid, number)
    except (ProcessLookupError, PermissionError):
        pass


# How a request to signal the child's group starts (the controller writes `{"signal":N}`).
SIGNAL_REQUEST = b'{"signal"'


def fork_standby():
    """Forks the child that will run the next request, before that request comes: the fork and
    what a fresh child touches first are paid while the controller is busy with the last
    result and the next proposal. The child waits on a socket of its own for the request (and
    its descriptors) the server passes on; it does not hold the controller's socket, so the
    controller sees the server go when it goes."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        try:
            CONTROL.close()
            ours.close()
            os.setpgid(0, 0)
            message, fds, _, _ = socket.recv_fds(theirs, 1 << 20, 16)
            if message:
                theirs.send(b"k")
                theirs.detach()  # closed with the rest of the server's descriptors
                child(json.loads(message), fds)
        finally:
            os._exit(127)
    theirs.close()
    return pid, ours


def hand_over(standby, message, fds):
    """Passes the request to the standby child; whether it took it (it says so before it runs
    anything)."""
    try:
        socket.send_fds(standby, [message], fds)
        return standby.recv(1) == b"k"
    except OSError:
        return False


def discard_standby(pid, standby):
    standby.close()
    kill_group(pid, signal.SIGKILL)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def serve():
    pid, standby = fork_standby()
    while True:
        message, fds, _, _ = socket.recv_fds(CONTROL, 1 << 20, 16)
        if not message:
            discard_standby(pid, standby)
            return
        if message.startswith(SIGNAL_REQUEST):
            # Asked for by a controller that timed out as the child ended: too late.
            for fd in fds:
                os.close(fd)
            continue
        if not hand_over(standby, message, fds):
            # The standby child died before it took the request (killed from outside): nothing
            # of the request has run, and a fresh child takes it.
            discard_standby(pid, standby)
            pid, standby = fork_standby()
            if not hand_over(standby, message, fds):
                raise OSError("a freshly forked child did not take its request")
        standby.close()
        for fd in fds:
            os.close(fd)
        send({"pid": pid})
        if not supervise(pid):
            return
        send({"status": end_child(pid)})
        # The next child starts from this request's environment: the next request's differs
        # in a few variables, and each variable a child changes costs it a copied page.
        set_environment(json.loads(message)["steps"][0]["env"])
        pid, standby = fork_standby()


def end_child(pid):
    """Kills the child's group, reaps the child and kills whatever it orphaned; its wait status.
    The child is a zombie until reaped, so its group id cannot have been reused before."""
    kill_group(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    kill_orphans()
    return status


def supervise(pid):
    """Waits for the child to exit, signalling its group as the controller asks (at its
    timeout); False when the controller went away, after killing the child's group."""
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            ready, _, _ = select.select([pidfd, CONTROL], [], [])
            if pidfd in ready:
                return True
            message = CONTROL.recv(256)
            if not message:
                end_child(pid)
                return False
            kill_group(pid, json.loads(message)["signal"])
    finally:
        os.close(pidfd)


try:
    if not hasattr(os, "pidfd_open"):
        raise OSError("os.pidfd_open is missing (it needs Python 3.9 or newer on Linux 5.3 or newer)")
    become_subreaper()
    preload(sys.argv[2:])
    BASELINE = Baseline()
    # `compile` builds the `ast` node types on its first call in an interpreter (about 1.5 ms):
    # built here, every child shares them instead of building its own.
    compile("", "<warm>", "exec")
    # What the server has imported is never collected: children then do not copy the pages a
    # collection would touch (copy-on-write after fork).
    gc.freeze()
except BaseException as error:
    send({"error": f"{type(error).__name__}: {error}"})
    sys.exit(1)
send({"ready": True})
serve()
