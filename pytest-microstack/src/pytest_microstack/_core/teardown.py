"""What happens to a stack when its run is done with it: one policy, chosen once."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pytest_microstack._cleanup import backstop
from pytest_microstack._core.stack import ComposeStack
from pytest_microstack._settings import StackSettings, TeardownPolicy


class Teardown(enum.Enum):
    """The end of a stack's life, decided from the settings before it starts."""

    KEEP = "keep"  # started for --keep-stack/--reuse-stack: left running for later runs
    RELEASE = "release"  # a kept stack this run attached to: left running, only its lease is released
    WAIT = "wait"  # removed before the run goes on (CI: a job's end means a clean engine)
    REAPER = "reaper"  # handed to a detached reaper: pytest exits as soon as results are reported

    @classmethod
    def for_settings(cls, settings: StackSettings, *, attached: bool = False) -> Teardown:
        """The settings' policy, for this stack: a kept one attached to is only released."""
        if attached:
            return cls.RELEASE
        return _FOR_POLICY[settings.teardown]

    @contextmanager
    def applied(
        self, stack: ComposeStack, on_start_failure: Callable[[ComposeStack, Exception], None] | None = None
    ) -> Iterator[ComposeStack]:
        """Start `stack` (unless attached), yield it, then end it as this policy says, errors included.

        A stack that never came up is removed whatever the policy: it is not
        worth keeping. On Ctrl-C or SIGTERM the backstop has already started the
        removal on a thread; it stays registered so that the atexit backstop
        waits for it while pytest reports the interrupt.
        """
        if self is Teardown.RELEASE:
            yield stack  # already running and checked healthy; nothing of ours to remove
        else:
            with self._owned(stack, on_start_failure):
                yield stack

    @contextmanager
    def _owned(
        self, stack: ComposeStack, on_start_failure: Callable[[ComposeStack, Exception], None] | None
    ) -> Iterator[None]:
        if self is not Teardown.KEEP:
            backstop.register(stack.project, stack.stop)
        started = finished = interrupted = False
        try:
            try:
                stack.start()
            except Exception as error:
                if on_start_failure is not None:
                    on_start_failure(stack, error)
                raise
            started = True
            yield
            finished = True
        except KeyboardInterrupt:
            interrupted = backstop.started_early(stack.project)
            raise
        finally:
            if not interrupted and not (self is Teardown.KEEP and started):
                detached = finished and self is Teardown.REAPER and stack.hand_to_reaper()
                if not detached:
                    stack.stop()
                backstop.unregister(stack.project)  # only once removed: a second Ctrl-C still finds it


_FOR_POLICY = {
    TeardownPolicy.KEEP: Teardown.KEEP,
    TeardownPolicy.REUSE: Teardown.KEEP,  # when there is no kept stack to attach to, this one is kept
    TeardownPolicy.WAIT: Teardown.WAIT,
    TeardownPolicy.REAPER: Teardown.REAPER,
}
