"""Not collected on its own: test_interrupt_windows.py copies it into an example project."""

from conftest import arm_removal


def test_uses_the_stack(stack):
    arm_removal(stack.project)
