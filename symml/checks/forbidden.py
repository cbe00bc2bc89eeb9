r"""The forbidden-call tripwire: "your answer calls o3.wigner_3j; this exercise asks you to derive it".

An exercise that asks a student to *derive* something declares what its answer may not call
(``Exercise(..., forbidden=[o3.wigner_3j, clebsch_gordan])``; its own reference is always
forbidden). While the answer runs, a profile hook (``sys.setprofile``) watches every call. A call to
a forbidden function counts when it comes from the student's side of the stack: the nearest caller
that is not in Python's standard library is the student's own code (a notebook cell, a lambda, a
wrapper or alias made earlier), not a library that uses the function internally. So

* ``o3.wigner_3j(1, 1, 2)``, ``w = o3.wigner_3j; w(1, 1, 2)``, ``functools.partial(o3.wigner_3j, 1)``
  and a helper function defined in an earlier cell are all caught;
* ``symml.nn.TensorProduct`` using Clebsch-Gordan coefficients inside is not: it is a library;
* the references of *other* exercises, which ``check`` hands back when an earlier answer failed, are
  trusted too: building on them is allowed.

Python functions are matched by where their code was defined (file and line), so a second copy of
a module (the grader loads its own) still matches; C functions and methods (``torch.linalg.cross``,
``Tensor.cross``) by name and owner. A forbidden ``functools.lru_cache`` function has its cache
emptied while the answer runs (a cache hit would run no code to see). The hook only notes the call and lets it finish: the answer's
own ``try``/``except`` cannot swallow the verdict.

The guard cannot be switched off by the answer. It holds its own reference to the genuine
``sys.setprofile`` (taken when this module is imported) and, while the answer runs:

* a call to ``sys.setprofile`` or ``threading.setprofile`` (a ``None`` or a no-op profile) from the
  student's side, a ``sys.setprofile`` replaced by an earlier cell, or a profile found missing
  when the answer returns, is a hit named "the forbidden-call guard" (the exercise fails and the
  hint says why);
* threads started through ``threading`` get the same profile (``threading._profile_hook``); a
  thread started past it (``_thread.start_new_thread``, a ``Thread`` whose bootstrap was
  replaced) or a process started by the answer (``os.fork``, ``subprocess``: the guard cannot see
  into it) is a hit too;
* a trusted reference lets through only the calls that library code makes on its behalf: a key
  function or a generator of the student's that it calls back is the student's code again.

What it does not stop: a student who deliberately dismantles it from the inside (rewriting a
function's code object, reaching the tripwire's own objects through ``gc``, a thread started by
an earlier cell to which the answer hands its work, C code through ``ctypes`` that switches the
profile off and on again, copying the library's source into a cell). The tripwire makes the
honest route the easy one and names the shortcut.
"""

import _thread
import functools
import os
import sys
import sysconfig
import threading
import types

__all__ = ["Tripwire", "display_name"]

_STDLIB = tuple(os.path.realpath(sysconfig.get_paths()[k]) + os.sep for k in ("stdlib", "platstdlib"))
_LIBRARY = ("site-packages" + os.sep, "dist-packages" + os.sep, os.path.dirname(os.path.dirname(os.path.realpath(__file__))) + os.sep)
# the second entry of _LIBRARY is the symml package folder: the library, checks included, is trusted

GUARD = "the forbidden-call guard"  # named in the hits on the guard itself: "your answer calls sys.setprofile (which switches off ...)"


def _genuine(f, module, name: str) -> bool:
    """Is ``f`` the interpreter's own builtin ``module.name`` (not a replacement, which is Python or another builtin)?"""
    return type(f) is types.BuiltinFunctionType and getattr(f, "__self__", None) is module and f.__name__ == name


# taken at import, before any answer runs; the guard uses these, never what `sys` holds later
_SETPROFILE, _GETPROFILE = sys.setprofile, sys.getprofile
_THREAD_BOOTSTRAP = (threading.Thread._bootstrap, threading.Thread._bootstrap_inner)
_THREAD_STARTS = {"start_new_thread", "start_new", "start_joinable_thread"}
_PROFILE_SETTERS = {("sys", "setprofile"), ("sys", "_setprofileallthreads"), ("threading", "setprofile"), ("threading", "setprofile_all_threads")}
_PROCESS_STARTS = {("posix", n) for n in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "execv", "execve", "register_at_fork")} | {("_posixsubprocess", "fork_exec")}
_THREADING_FILE = os.path.realpath(threading.__file__)


def display_name(f) -> str:
    """How a hint names ``f``: ``o3.wigner_3j``, ``torch.linalg.cross``, ``Tensor.cross``, ``symml.cg.clebsch_gordan``."""
    module = getattr(f, "__module__", None) or ""
    name = getattr(f, "__qualname__", None) or getattr(f, "__name__", repr(f))
    objclass = getattr(f, "__objclass__", None)
    if objclass is not None:  # a method descriptor such as torch.Tensor.cross
        return f"Tensor.{f.__name__}" if "Tensor" in objclass.__name__ else f"{objclass.__name__}.{f.__name__}"
    if module.startswith("e3nn.o3"):
        return f"o3.{name}"
    if module.startswith("torch") or type(f).__name__ == "builtin_function_or_method":
        for space in ("torch", "torch.linalg", "torch.special", "torch.fft"):
            ns = sys.modules.get(space)
            for candidate in (getattr(f, "__name__", ""), getattr(f, "__name__", "").removeprefix("linalg_")):
                if ns is not None and getattr(ns, candidate, None) is f:
                    return f"{space}.{candidate}"
    return f"{module}.{name}" if module else name


def _key(f):
    """How a forbidden function is recognised: its code's (file, line) or, for C functions, itself."""
    f = _unwrap(f)
    code = getattr(f, "__code__", None)
    if code is not None:
        return ("code", os.path.realpath(code.co_filename), code.co_firstlineno, code.co_name)
    return ("c", getattr(f, "__name__", None))


def _unwrap(f):
    """The function behind a partial, a bound method, a decorator's ``__wrapped__`` or a callable object."""
    for _ in range(10):
        if isinstance(f, functools.partial):
            f = f.func
        elif hasattr(f, "__wrapped__"):
            f = f.__wrapped__
        elif hasattr(f, "__func__"):
            f = f.__func__
        else:
            return f
    return f


def _c_matches(called, f) -> bool:
    """Is the C callable being called (a builtin, or a bound builtin method) the forbidden ``f``?"""
    if called is f:
        return True
    objclass = getattr(f, "__objclass__", None)
    if objclass is not None:  # Tensor.cross matches every bound x.cross
        return getattr(called, "__name__", None) == f.__name__ and isinstance(getattr(called, "__self__", None), objclass)
    try:
        return called == f
    except Exception:
        return False


class Tripwire:
    """``with Tripwire(forbidden, trusted) as wire: answer(...)``; afterwards ``wire.hit`` names the first forbidden call, or is None.

    ``forbidden``: ``{display name: callable}``. ``trusted``: callables whose bodies may call anything
    (the fallback references of the lesson's other exercises).
    """

    def __init__(self, forbidden: dict, trusted=()):
        self.hit, self._closing = None, False
        self.code_keys, self.c_funcs = {}, {}
        for name, f in forbidden.items():
            key = _key(f)
            if key[0] == "code":
                self.code_keys[key] = name
            else:
                self.c_funcs.setdefault(key[1], []).append((_unwrap(f), name))
        self.code_names = {k[3] for k in self.code_keys}
        # a cache hit of an lru_cache'd function runs no Python code the hook could see: empty the caches
        self.caches = [f for f in forbidden.values() if hasattr(f, "cache_clear")]
        self.trusted = {_key(f) for f in trusted if _key(f)[0] == "code"}

    def answer_is_forbidden(self, answer) -> str | None:
        """The display name when the answer *is* a forbidden function (or a partial or wrapper of one)."""
        f = _unwrap(answer)
        key = _key(f)
        if key[0] == "code":
            return self.code_keys.get(key)
        return next((name for g, name in self.c_funcs.get(key[1], []) if _c_matches(f, g)), None)

    def _from_student(self, frame) -> bool:
        """Is the nearest non-stdlib caller at or above ``frame`` the student's code?"""
        while frame is not None:
            code = frame.f_code
            filename = code.co_filename
            if not (filename.startswith("<frozen") or os.path.realpath(filename).startswith(_STDLIB)) or "site-packages" in filename:
                break
            frame = frame.f_back
        if frame is None:
            return True
        code = frame.f_code
        if ("code", os.path.realpath(code.co_filename), code.co_firstlineno, code.co_name) in self.trusted:
            return False
        # only the nearest caller counts: a trusted reference that calls back into the answer (a key
        # function, a generator) does not clear the student's calls made there
        path = os.path.realpath(code.co_filename)
        return not any(part in path or path.startswith(part) for part in _LIBRARY)

    def _guard_call(self, frame, event, arg) -> str | None:
        """A hit when this call switches the guard off or escapes it (``frame``: the caller's frame)."""
        if event == "c_call":
            owner = getattr(getattr(arg, "__self__", None), "__name__", None)
            name = getattr(arg, "__name__", None)
            if (owner, name) in _PROFILE_SETTERS:
                bootstrap = frame.f_code.co_name == "_bootstrap_inner" and os.path.realpath(frame.f_code.co_filename) == _THREADING_FILE
                return None if bootstrap and threading._profile_hook is self._hook else f"sys.setprofile (which switches off {GUARD})"
            if owner == "_thread" and name in _THREAD_STARTS:
                thread = frame.f_locals.get("self") if frame.f_code.co_name == "start" else None
                if os.path.realpath(frame.f_code.co_filename) == _THREADING_FILE and isinstance(thread, threading.Thread):
                    hooks = (getattr(thread._bootstrap, "__func__", None), getattr(thread._bootstrap_inner, "__func__", None))
                    if hooks == _THREAD_BOOTSTRAP and threading._profile_hook is self._hook and threading._sys is sys:
                        return None  # a thread the hook follows into
                return f"_thread.{name} (a thread that {GUARD} cannot follow)" if self._from_student(frame) else None
            if (owner, name) in _PROCESS_STARTS and self._from_student(frame):
                return f"{owner}.{name} (a new process, which {GUARD} cannot watch)"
        elif event == "call" and frame.f_code.co_name in ("setprofile", "setprofile_all_threads"):
            if os.path.realpath(frame.f_code.co_filename) == _THREADING_FILE and self._from_student(frame.f_back):
                return f"threading.setprofile (which switches off {GUARD} in threads)"
        return None

    def _profile(self, frame, event, arg):
        if self.hit is not None or self._closing:
            return
        if event == "call":
            code = frame.f_code
            if code.co_name in self.code_names:
                name = self.code_keys.get(("code", os.path.realpath(code.co_filename), code.co_firstlineno, code.co_name))
                if name and self._from_student(frame.f_back):
                    self.hit = name
                    return
            if code.co_name in ("setprofile", "setprofile_all_threads"):
                self.hit = self._guard_call(frame, event, arg)
        elif event == "c_call":
            candidates = self.c_funcs.get(getattr(arg, "__name__", None))
            if candidates:
                for f, name in candidates:
                    if _c_matches(arg, f) and self._from_student(frame):
                        self.hit = name
                        return
            if getattr(arg, "__name__", None) in _GUARDED_NAMES:
                self.hit = self._guard_call(frame, event, arg)

    def __enter__(self):
        for f in self.caches:
            f.cache_clear()
        self._closing = False
        self._hook = self._profile  # one bound method: what getprofile must still return at the end
        if not (_genuine(_SETPROFILE, sys, "setprofile") and _genuine(sys.setprofile, sys, "setprofile") and _genuine(sys.getprofile, sys, "getprofile")):
            self.hit = f"a replaced sys.setprofile (an earlier cell switched off {GUARD})"
        self._previous = _GETPROFILE()
        self._previous_threads = threading._profile_hook
        threading._profile_hook = self._hook  # threads started while the answer runs are watched too
        _SETPROFILE(self._hook)
        return self

    def __exit__(self, *exc):
        self._closing = True
        if self.hit is None and (_GETPROFILE() is not self._hook or threading._profile_hook is not self._hook):
            self.hit = f"something that switched off {GUARD} while the answer ran"
        threading._profile_hook = self._previous_threads
        _SETPROFILE(self._previous)
        return False


_GUARDED_NAMES = {n for _, n in _PROFILE_SETTERS} | _THREAD_STARTS | {n for _, n in _PROCESS_STARTS}
