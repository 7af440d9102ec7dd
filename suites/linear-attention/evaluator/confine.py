"""Confines the process that runs a candidate, with Landlock (Linux 5.13+), before the candidate's
code is imported: it may read only what running Python and torch needs (the interpreter's own
installation, the shared libraries it has loaded and their folders, /etc, /dev, /proc, /sys, the
C toolchain and CUDA libraries Triton needs at the gpu scale (TOOLCHAIN), the suite's evaluator
and the files named), and may write only into its private temporary folder.

Everything else is unreadable to it, so in particular the held-out text (the corpus file, every
`pydoc_data` copy of every Python installation found) and the suite's cache (reference losses):
a layer cannot look its answers up on disk, nor leave files for a later evaluation to read.
Landlock also keeps the process, and every program it starts (they inherit its domain), from
tracing or reading the memory of processes outside its domain (its parent holds the held-out
data), from TCP, and (ABI 6+) from signalling processes outside it. Without Landlock nothing is confined: `confine` raises.
"""

import ctypes
import glob
import os
import shutil
import sys
import sysconfig

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446  # the same on every arch
PR_SET_NO_NEW_PRIVS = 38
RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR, MAKE_REG = 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM, REFER, TRUNCATE, IOCTL_DEV = (1 << i for i in range(9, 16))
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
# Executing is reading's equal: a program started here inherits the same domain (it can read
# and write no more than this process), and Triton's compiler needs ptxas and cc at the gpu scale.
READ = READ_FILE | READ_DIR | EXECUTE


class Unavailable(Exception):
    """This machine cannot confine the candidate; the message says why."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(number, *args):
    result = _libc.syscall(ctypes.c_long(number), *args)
    if result < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return result


def abi():
    """The kernel's Landlock ABI version; raises Unavailable without one."""
    try:
        return _syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except OSError as e:
        raise Unavailable(f"Landlock is unavailable here ({e.strerror}; it needs Linux 5.13+ with landlock enabled)") from None


# What Triton (fla's kernels at the gpu scale) runs in here, besides its own ptxas: the C compiler
# with its assembler, linker, headers and libraries (it builds a small launcher per kernel),
# `/sbin/ldconfig -p` (how it finds libcuda), and the CUDA driver's and toolkit's libraries, which
# CUDA loads at its first call, after confinement. Read and execute only; a hidden path below them
# stays carved out. Without these a machine whose Python is not under /usr could not run fla
# confined (the CPU check `gpu_shape.py` builds a Triton launcher in here to show it can).
TOOLCHAIN = ("/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libexec", "/usr/include",
             "/usr/local/bin", "/usr/local/lib", "/usr/local/include", "/usr/local/cuda", "/usr/local/nvidia")


def hidden_paths(extra=()):
    """What a candidate must never read: the corpus and every pydoc_data folder of every Python
    installation found (each carries the text the suite holds out), and `extra`."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, "/usr", "/usr/local", "/opt"}
    roots.update(glob.glob(os.path.expanduser("~/.pyenv/versions/*")))
    found = set()
    for root in roots:
        found.update(glob.glob(os.path.join(root, "lib*", "python3*", "pydoc_data")))
    # The toolchain folders are readable whole, so a Python bundled deep inside one (a vendored
    # SDK's) is looked for too: about 0.4 s for /usr on this project's machine.
    for root in TOOLCHAIN:
        for folder, subfolders, _ in os.walk(root):
            if "pydoc_data" in subfolders:
                found.add(os.path.join(folder, "pydoc_data"))
    found.update(p for p in extra if p)
    return sorted({os.path.realpath(p) for p in found if os.path.exists(p)})


def _loaded_library_dirs():
    """Folders of every file mapped into this process (torch's, NumPy's, libc's libraries)."""
    dirs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                dirs.add(os.path.dirname(parts[5].strip()))
    return dirs


def _toolchain_roots():
    roots = set(TOOLCHAIN)
    roots.add(sysconfig.get_paths()["include"])  # Python.h, for the launcher
    for name in (os.environ.get("CC"), os.environ.get("CXX")):
        found = name and shutil.which(name)
        if found:
            roots.add(os.path.dirname(os.path.realpath(found)))
    return roots


def _readable_roots(evaluator_dir, files):
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, "/etc", "/proc", "/sys", evaluator_dir}
    roots.update(_toolchain_roots())
    roots.update(p for p in sys.path if p and os.path.isdir(p))
    roots.update(_loaded_library_dirs())
    roots.update(files)
    return {os.path.realpath(r) for r in roots if os.path.exists(r)}


def _below(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def _rules(roots, hidden):
    """(path, read rights) covering every root but no hidden path: a root that holds a hidden
    path is replaced by its children, recursively, leaving the hidden ones out."""
    rules, seen = [], set()

    def cover(path):
        if path in seen or any(_below(path, h) for h in hidden):
            return
        seen.add(path)
        if not any(_below(h, path) for h in hidden):
            rules.append(path)
            return
        for name in sorted(os.listdir(path)):
            cover(os.path.realpath(os.path.join(path, name)))

    for root in sorted(roots):
        cover(root)
    # A root below another is already covered; Landlock would accept it, but it is noise.
    rules = [r for r in rules if not any(r != o and _below(r, o) for o in rules)]
    return rules


def confine(evaluator_dir, files, writable, hidden):
    """Restricts this process for good (see the module's text). `files`: more paths to read;
    `writable`: folders to write in; `hidden`: paths that must stay unreadable (checked after)."""
    version = abi()
    handled = (1 << 13) - 1
    if version >= 2:
        handled |= REFER
    if version >= 3:
        handled |= TRUNCATE
    if version >= 5:
        handled |= IOCTL_DEV
    attr = _RulesetAttr(handled_access_fs=handled)
    size = ctypes.sizeof(ctypes.c_uint64)
    if version >= 4:
        attr.handled_access_net = 0b11  # TCP bind and connect: none allowed
        size = 2 * ctypes.sizeof(ctypes.c_uint64)
    if version >= 6:
        attr.scoped = 0b11  # abstract unix sockets and signals outside the domain
        size = 3 * ctypes.sizeof(ctypes.c_uint64)
    ruleset = _syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    try:
        def allow(path, rights):
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                if not os.path.isdir(path):
                    rights &= FILE_RIGHTS
                rule = _PathBeneath(allowed_access=rights & handled, parent_fd=fd)
                _syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(rule),
                         ctypes.c_uint32(0))
            finally:
                os.close(fd)

        hidden = [os.path.realpath(h) for h in hidden]
        for path in _rules(_readable_roots(evaluator_dir, files), hidden):
            allow(path, READ)
        allow("/dev", READ | WRITE_FILE | IOCTL_DEV)
        for folder in writable:
            allow(os.path.realpath(folder), handled)
        if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        _syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0))
    finally:
        os.close(ruleset)
    for path in hidden:
        try:
            if os.path.isdir(path):
                os.listdir(path)
            else:
                open(path, "rb").close()
        except PermissionError:
            continue
        raise Unavailable(f"confinement failed: the held-out path {path} can still be read")
    return version
