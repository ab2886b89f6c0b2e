"""tests/scheduling.py: the work units the xdist workers take, and the late units' turn.

The scheduler is driven here as pytest-xdist drives it (add the workers, hand it their
collection, schedule, report each finished test), with stand-ins for the workers that
record what they are sent, and a clock the test moves.
"""

from __future__ import annotations

import types

from tests.scheduling import LATE_AFTER_SECONDS, make_scheduler, work_unit, worker_group

HTTP = "tests/acceptance/test_http.py::test_index_page_renders[step03]"
IDLE = "tests/acceptance/test_idle_sockets.py::test_sockets_idle_for_a_minute[step03]"


def test_a_steps_tests_of_one_folder_share_a_worker_and_other_files_stay_together():
    frame = "tests/acceptance/test_input_checks.py::test_a_bad_frame[not JSON-step03]"
    faults = "tests/reliability/test_faults.py::test_the_page_reconnects[step03]"
    assert worker_group(HTTP) == worker_group(frame) == "step03-acceptance"
    assert worker_group(faults) == "step03-reliability"
    assert worker_group(HTTP.replace("step03", "step04")) == "step04-acceptance"
    deck = "tests/test_slides.py"
    assert worker_group(f"{deck}::test_a[x]") == worker_group(f"{deck}::test_b") == deck


def test_the_checks_after_a_wait_are_a_late_unit_of_their_group():
    assert worker_group(IDLE) == "step03-acceptance"
    assert work_unit(IDLE) == "step03-acceptance (late)"
    assert work_unit(HTTP) == "step03-acceptance"
    stack = "tests/production/test_stack.py"
    assert work_unit(f"{stack}::test_a_rolling_restart_loses_no_message") == f"{stack} (late)"
    assert work_unit(f"{stack}::test_static_files_come_from_nginx") == stack


class Worker:
    """A stand-in for xdist's WorkerController: records the tests it is sent."""

    def __init__(self, name: str, collection: list[str]):
        self.name, self.collection = name, collection
        self.queue: list[str] = []  # sent, not finished
        self.ran: list[str] = []
        self.shutting_down = False
        self.gateway = types.SimpleNamespace(id=name)

    def send_runtest_some(self, indices):
        self.queue += [self.collection[index] for index in indices]

    @property
    def can_finish(self) -> bool:
        """An xdist worker runs its last test only once it knows what comes next, or
        that nothing does (it needs the next test to tear down the right fixtures)."""
        return len(self.queue) >= 2 or bool(self.queue and self.shutting_down)

    def shutdown(self):
        self.shutting_down = True


class Run:
    """One scheduler, two workers, and a clock that the test moves."""

    def __init__(self, collection: list[str]):
        self.now = 0.0
        config = types.SimpleNamespace(
            getvalue=lambda name: ["2*popen"], option=types.SimpleNamespace(loadscopereorder=False)
        )
        self.scheduler = make_scheduler(config, None, clock=lambda: self.now)
        self.collection = collection
        self.workers = [Worker("a", collection), Worker("b", collection)]
        for worker in self.workers:
            self.scheduler.add_node(worker)
            self.scheduler.add_node_collection(worker, collection)
        self.scheduler.schedule()

    def finish(self, worker: Worker, seconds: float = 1.0) -> str:
        """The worker finishes the first test it was sent, `seconds` later."""
        assert worker.can_finish, f"worker {worker.name} waits for work that never comes"
        self.now += seconds
        nodeid = worker.queue.pop(0)
        worker.ran.append(nodeid)
        self.scheduler.mark_test_complete(worker, self.collection.index(nodeid))
        return nodeid

    def run_out(self, seconds: float = 1.0) -> None:
        """Both workers finish test after test until none is left; when both wait, xdist
        stops them if the scheduler says every test has gone out (else it would hang)."""
        while any(worker.queue for worker in self.workers):
            movable = [worker for worker in self.workers if worker.can_finish]
            if not movable:
                assert self.scheduler.tests_finished, "both workers wait: the run hangs"
                for worker in self.workers:
                    worker.shutdown()
                continue
            for worker in movable:
                self.finish(worker, seconds)


def files(count: int) -> list[str]:
    return [f"tests/test_file{n}.py::test_it" for n in range(count)]


def test_a_late_unit_waits_a_minute_on_the_worker_of_its_group_while_others_run():
    other_step = HTTP.replace("step03", "step04")
    # The late tests come last in the collection (tests/conftest.py sorts them there).
    run = Run([HTTP, other_step, *files(12), IDLE])
    a, b = run.workers
    assert a.queue[0] == HTTP  # a holds step 03's sockets
    while IDLE not in a.queue:
        run.finish(a, seconds=10)
        assert IDLE not in b.queue, "the late unit went to the other worker"
    assert run.now >= LATE_AFTER_SECONDS
    # It came before the ordinary work still waiting, and a ran other units meanwhile.
    assert any(nodeid.startswith("tests/test_file") for nodeid in a.ran)
    assert run.scheduler.workqueue, "ordinary units were left when the late one went"
    run.run_out()
    assert sorted(a.ran + b.ran) == sorted(run.collection)


def test_when_only_late_units_are_left_they_go_at_once_and_other_workers_stop():
    run = Run([HTTP, *files(2), IDLE])
    a, b = run.workers
    # b has its last test, and nothing but a's late unit is left: b is told to stop.
    assert b.shutting_down
    run.run_out(seconds=1)  # far less than a minute
    assert IDLE in a.ran and run.now < LATE_AFTER_SECONDS
    assert not run.scheduler.workqueue
    assert sorted(a.ran + b.ran) == sorted(run.collection)


def test_a_late_unit_whose_group_is_not_in_the_run_is_ordinary():
    run = Run([IDLE, *files(1)])
    run.run_out()
    assert IDLE in [nodeid for worker in run.workers for nodeid in worker.ran]
