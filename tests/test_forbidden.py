"""The forbidden-call guard cannot be switched off by the answer (symml/checks/forbidden.py, run_answer).

Each way to switch it off is tried on 04.1 (derive the Clebsch-Gordan coefficients; the reference
is forbidden) with an answer that then calls the reference; each must fail with a hint that names
the guard. The same switch-offs are tried in `symml grade` by tests/test_sandbox.py.
"""

import os
import subprocess
import sys
import threading
import _thread

import pytest
import torch

from symml.checks import grade
from symml.checks.forbidden import GUARD, Tripwire
from symml.checks.lesson04 import cg_from_casimir as reference


def verdict(answer):
    return grade("04.1", answer, seed=0)


def test_the_shortcut_alone_is_caught_and_an_honest_answer_passes():
    assert "reference solution" in verdict(lambda *a: reference(*a)).message
    from symml.cg import clebsch_gordan  # the library's own derivation is not the reference (a different function)

    v = verdict(lambda l1, l2, l3: clebsch_gordan(l1, l2, l3, dtype=torch.float64))
    assert v.status == "failed" and "clebsch_gordan" in v.message  # forbidden too; the point: only the guard's message differs below


def _switch_off_then_cheat(switch):
    def answer(l1, l2, l3):
        switch()
        return reference(l1, l2, l3)

    return answer


@pytest.mark.parametrize("switch", [
    lambda: sys.setprofile(None),
    lambda: sys.setprofile(lambda *a: None),
    lambda: threading.setprofile(None) or sys.setprofile(None),
], ids=["setprofile(None)", "a no-op profile", "threading.setprofile"])
def test_switching_the_profile_off_in_the_answer_fails(switch):
    before = sys.getprofile()
    v = verdict(_switch_off_then_cheat(switch))
    assert v.status == "failed" and GUARD in v.message and "setprofile" in v.message, v.message
    assert sys.getprofile() is before  # and the guard put the profile back as it was


def test_threading_setprofile_alone_fails():
    def answer(l1, l2, l3):
        threading.setprofile(None)
        out = []
        t = threading.Thread(target=lambda: out.append(reference(l1, l2, l3)))
        t.start()
        t.join()
        return out[0]

    v = verdict(answer)
    assert v.status == "failed" and "threading.setprofile" in v.message and GUARD in v.message, v.message
    assert threading._profile_hook is None  # restored


def test_an_earlier_cell_that_replaced_setprofile_fails_the_exercise(monkeypatch):
    real = sys.setprofile
    monkeypatch.setattr(sys, "setprofile", lambda f: real(None))  # "cell 3": every profile becomes none
    v = verdict(lambda *a: reference(*a))
    monkeypatch.undo()
    assert v.status == "failed" and "a replaced sys.setprofile" in v.message and GUARD in v.message, v.message


def test_a_shortcut_run_in_a_thread_is_seen():
    def answer(l1, l2, l3):
        out = []
        t = threading.Thread(target=lambda: out.append(reference(l1, l2, l3)))
        t.start()
        t.join()
        return out[0]

    v = verdict(answer)
    assert v.status == "failed" and "reference solution" in v.message, v.message


def test_a_thread_started_past_threading_fails():
    def answer(l1, l2, l3):
        out, done = [], _thread.allocate_lock()
        done.acquire()

        def work():
            out.append(reference(l1, l2, l3))
            done.release()

        _thread.start_new_thread(work, ())
        done.acquire()
        return out[0]

    v = verdict(answer)
    assert v.status == "failed" and "_thread.start_new_thread" in v.message and GUARD in v.message, v.message


def test_a_thread_whose_bootstrap_was_replaced_fails():
    class Quiet(threading.Thread):
        def _bootstrap_inner(self):  # skips the line that installs the profile
            self._set_ident()
            self._set_tstate_lock()
            self._started.set()
            self.run()

    def answer(l1, l2, l3):
        out = []
        t = Quiet(target=lambda: out.append(reference(l1, l2, l3)))
        t.start()
        t.join(timeout=30)
        return out[0]

    v = verdict(answer)
    assert v.status == "failed" and GUARD in v.message, v.message


def test_a_process_started_by_the_answer_fails():
    def answer(l1, l2, l3):
        subprocess.run([sys.executable, "-c", "pass"], timeout=60)
        return reference(l1, l2, l3)  # (caught anyway; the point is the message is the process's)

    v = verdict(answer)
    assert v.status == "failed" and "new process" in v.message, v.message


def test_a_profile_switched_off_without_a_call_the_hook_sees_is_found_at_the_end():
    wire = Tripwire({"f": reference})
    with wire:
        wire._closing = True  # stands for C code (ctypes) that removes the profile: no event reaches the hook
        sys.setprofile(None)
        wire._closing = False
    assert wire.hit and GUARD in wire.hit and "switched off" in wire.hit


def helper_trusted(items, key):
    """Stands for a trusted reference that takes a key function (sorted) or a generator (sum)."""
    return sorted(items, key=key)


def student_key(x):
    return float(reference(1, 1, 2).sum()) + x


def test_a_trusted_frame_does_not_clear_the_students_calls_it_calls_back():
    wire = Tripwire({"the reference": reference}, trusted=[helper_trusted])
    with wire:
        helper_trusted([1, 2], key=student_key)
    assert wire.hit == "the reference"
    wire = Tripwire({"the reference": reference}, trusted=[helper_trusted])
    with wire:
        sum(float(reference(1, 1, 2).sum()) for _ in range(1))  # a generator of the student's
    assert wire.hit == "the reference"


def trusted_building_block(l1, l2, l3):
    return reference(l1, l2, l3)  # a trusted reference's own call is allowed


def test_a_trusted_frame_still_clears_its_own_calls():
    wire = Tripwire({"the reference": reference}, trusted=[trusted_building_block])
    with wire:
        trusted_building_block(1, 1, 2)
    assert wire.hit is None


def test_an_honest_answer_with_threads_of_its_own_passes():
    from symml.cg import clebsch_gordan

    def answer(l1, l2, l3):  # the library's derivation is the wrong kind of help, but a plain thread is not
        out = []
        t = threading.Thread(target=lambda: out.append(torch.ones(2)))
        t.start()
        t.join()
        return out[0]

    v = verdict(answer)
    assert GUARD not in v.message, v.message  # wrong (shape), but not a guard hit
